// Starts a Tally server of its own for the tests: seeds 90 days of demo usage into a fresh temporary
// folder, serves it on a free loopback port, and hands the URL and an admin key to the tests through
// environment variables (and a state file that global-teardown.js reads).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function run(bin, args, log) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk) => {
      output += chunk;
      fs.appendFileSync(log, chunk);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve(output) : reject(new Error(`${path.basename(bin)} ${args[0]} exited with ${code ?? signal}:\n${output.slice(-4000)}`))));
  });
}

async function waitForHealth(baseURL, server, errLog, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let exited = null;
  server.on('exit', (code, signal) => { exited = code ?? signal; });
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`tally serve exited with ${exited} before it was healthy:\n${fs.readFileSync(errLog, 'utf8').slice(-4000)}`);
    try {
      const response = await fetch(`${baseURL}/healthz`);
      if (response.status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`tally serve was not healthy at ${baseURL}/healthz within ${timeoutMs / 1000} s:\n${fs.readFileSync(errLog, 'utf8').slice(-4000)}`);
}

export default async function globalSetup() {
  const bin = process.env.TALLY_BIN || path.join(repo, 'src', 'Tally.Cli', 'bin', 'Release', 'net10.0', 'tally');
  if (!fs.existsSync(bin)) throw new Error(`No Tally binary at ${bin}: build it (dotnet build src/Tally.Cli -c Release) or set TALLY_BIN.`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tally-e2e-'));
  const data = path.join(dir, 'data');
  const config = path.join(dir, 'tally.json');
  const key = `e2e-${crypto.randomBytes(16).toString('hex')}`;
  // Keys, the schedule and two institutions (those `serve --demo` adds, whose IP ranges cover part of the
  // demo visitors): every built-in type and query stays. Aggregation runs when a test asks for it.
  fs.writeFileSync(config, JSON.stringify({
    apiKeys: [{ name: 'e2e', key, role: 'admin' }],
    schedule: { aggregateEverySeconds: 3600 },
    counter: {
      institutions: [
        { customerId: 'demo-university', name: 'Demo University', ids: { ROR: ['05demo001'] }, ipRanges: ['20.0.0.0/8', '100.0.0.0/8'] },
        { customerId: 'example-institute', name: 'Example Institute of Technology', ids: { ISNI: ['0000000121032683'] }, ipRanges: ['150.0.0.0/8'] },
      ],
    },
  }, null, 2));
  const outLog = path.join(dir, 'server.out.log');
  const errLog = path.join(dir, 'server.err.log');
  const seedLog = path.join(dir, 'seed.log');

  const seedStart = Date.now();
  await run(bin, ['demo', '--data', data, '--config', config, '--days', '90'], seedLog);
  const seedSeconds = (Date.now() - seedStart) / 1000;

  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const server = spawn(bin, ['serve', '--data', data, '--config', config, '--urls', baseURL], {
    stdio: ['ignore', fs.openSync(outLog, 'a'), fs.openSync(errLog, 'a')],
  });
  const serveStart = Date.now();
  await waitForHealth(baseURL, server, errLog);
  const serveSeconds = (Date.now() - serveStart) / 1000;

  const state = { baseURL, key, dir, data, config, pid: server.pid, errLog, outLog, seedSeconds, serveSeconds };
  const stateFile = path.join(dir, 'state.json');
  fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
  process.env.TALLY_E2E_STATE = stateFile;
  process.env.TALLY_E2E_BASE_URL = baseURL;
  process.env.TALLY_E2E_KEY = key;
  process.env.TALLY_E2E_ERR_LOG = errLog;
  console.log(`Tally for e2e: ${baseURL} (seeded 90 days in ${seedSeconds.toFixed(1)} s, healthy ${serveSeconds.toFixed(1)} s after start; data in ${dir})`);
}
