// Stops the server global-setup.js started and removes its temporary folder (kept with E2E_KEEP=1).
import fs from 'node:fs';

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export default async function globalTeardown() {
  const file = process.env.TALLY_E2E_STATE;
  if (!file || !fs.existsSync(file)) return;
  const state = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (state.pid && alive(state.pid)) {
    process.kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (alive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(state.pid)) process.kill(state.pid, 'SIGKILL');
  }
  if (process.env.E2E_KEEP === '1') {
    console.log(`Kept the e2e data and server log in ${state.dir}`);
    return;
  }
  fs.rmSync(state.dir, { recursive: true, force: true });
}
