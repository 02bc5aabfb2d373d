/** Runs `docker compose` for a project, with its project name and generated file. */
import { spawn } from 'node:child_process';
import type { Project } from './project.ts';

export interface ComposeRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function dockerCompose(
  project: Project,
  args: string[],
  options: { capture?: boolean } = {},
): Promise<ComposeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['compose', '-p', project.plan.name, '-f', project.composeFile, ...args], {
      stdio: options.capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (error) =>
      reject(
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error(
              'the docker command is not installed: run scripts/setup, or install Docker with the compose plugin',
            )
          : error,
      ),
    );
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
