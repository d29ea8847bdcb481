// The real `openai` npm client through the gateway of `sparkctl serve --simulate --listen
// 127.0.0.1:0` (SPARKCTL_BIN): the daemon runs in a temporary HOME and XDG_RUNTIME_DIR with one
// llama.cpp deployment on the stand-in engine, unloaded at start. The port comes from serve's
// "sparkctl serve: listening on http://HOST:PORT" line, waited for with a deadline; the daemon
// gets SIGTERM at the end (it stops its engines), then its process group SIGKILL. The deployment
// runs with --embeddings, so /v1/embeddings is served besides chat and the Responses API.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const BIN = process.env.SPARKCTL_BIN;
const MODEL = 'small';
const CONFIG = `
[[models]]
id = "${MODEL}"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
extra_args = ["--embeddings"]
simulate_args = ["--timing", "fixed:20,5"]
`;

assert.ok(BIN, 'SPARKCTL_BIN names the sparkctl binary');

async function startServe() {
  const home = mkdtempSync(join(tmpdir(), 'sparkctl-node-serve-'));
  mkdirSync(join(home, '.config', 'sparkctl'), { recursive: true });
  mkdirSync(join(home, 'run'), { recursive: true });
  writeFileSync(join(home, '.config', 'sparkctl', 'config.toml'), CONFIG);
  const env = {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_STATE_HOME: join(home, '.local', 'state'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_RUNTIME_DIR: join(home, 'run'),
  };
  for (const v of ['SPARKCTL_CONFIG', 'SPARKCTL_HARDWARE', 'SPARKCTL_DATA_DIR', 'SPARKCTL_MEMINFO']) {
    delete env[v];
  }
  const child = spawn(BIN, ['serve', '--simulate', '--hardware', 'dgx-spark', '--listen',
    '127.0.0.1:0'], { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      let timer;
      const deadline = new Promise((resolve) => { timer = setTimeout(resolve, 20000); });
      await Promise.race([exited, deadline]);
      clearTimeout(timer);
    }
    try {
      process.kill(-child.pid, 'SIGKILL'); // anything left in its group
    } catch {
      // Already gone.
    }
    rmSync(home, { recursive: true, force: true });
  };
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listen line within 30 s:\n${stderr}`)),
        30000);
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        const m = /sparkctl serve: listening on (http:\/\/[^\s]+)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited (${code}):\n${stderr}`));
      });
    });
    return { url, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

describe('openai client through sparkctl serve --simulate --listen', () => {
  let serve;
  const client = () => new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: 'unused-on-loopback',
    maxRetries: 0, timeout: 60000 });

  before(async () => {
    serve = await startServe();
  });
  after(async () => {
    if (serve) await serve.stop();
  });

  test('models list shows the configured deployment and its state', async () => {
    const models = [];
    for await (const m of client().models.list()) models.push(m);
    assert.equal(models.length, 1);
    assert.equal(models[0].id, MODEL);
    assert.equal(models[0].meta.state, 'unloaded');
  });

  test('chat, whole: the request loads the model, then it answers', async () => {
    const r = await client().chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 4,
    });
    assert.equal(r.choices.length, 1);
    assert.equal(typeof r.choices[0].message.content, 'string');
    assert.ok(r.usage.completion_tokens > 0 && r.usage.completion_tokens <= 4);
    const ids = [];
    for await (const m of client().models.list()) ids.push([m.id, m.meta.state]);
    assert.deepEqual(ids, [[MODEL, 'ready']]);
  });

  test('chat, streamed: chunks in order, then usage', async () => {
    const stream = await client().chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 5, stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let usage = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        if (c.delta?.content) {
          text += c.delta.content;
          chunks += 1;
        }
      }
    }
    assert.ok(chunks > 1, `${chunks} content chunks`);
    assert.ok(text.length > 0);
    assert.ok(usage && usage.completion_tokens === chunks, JSON.stringify(usage));
  });

  test('embeddings: base64 by default, decoded by the client, equal to the float form', async () => {
    const input = ['the first text', 'and a second one'];
    const b64 = await client().embeddings.create({ model: MODEL, input });
    assert.equal(b64.object, 'list');
    assert.equal(b64.data.length, 2);
    assert.equal(b64.usage.prompt_tokens, 7);
    for (const d of b64.data) {
      // The client decodes the base64 floats into a plain array (openai's toFloat32Array).
      assert.ok(Array.isArray(d.embedding), typeof d.embedding);
      assert.equal(d.embedding.length, 256);
      const norm = Math.sqrt(d.embedding.reduce((s, x) => s + x * x, 0));
      assert.ok(Math.abs(norm - 1) < 1e-5, `norm ${norm}`);
    }
    assert.notDeepEqual(b64.data[0].embedding, b64.data[1].embedding);
    const floats = await client().embeddings.create({ model: MODEL, input, encoding_format: 'float' });
    for (let i = 0; i < 2; i += 1) {
      assert.deepEqual(floats.data[i].embedding.map(Math.fround), b64.data[i].embedding);
    }
  });

  test('responses, whole: output_text and usage', async () => {
    const r = await client().responses.create({
      model: MODEL, input: 'say something short', max_output_tokens: 6,
    });
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.equal(r.output_text.split(' ').length, 6, r.output_text);
    assert.equal(r.usage.input_tokens, 3);
    assert.equal(r.usage.output_tokens, 6);
    assert.equal(r.usage.total_tokens, 9);
  });

  test('responses, streamed: created, deltas, completed with usage', async () => {
    const stream = await client().responses.create({
      model: MODEL, input: 'say something else', max_output_tokens: 5, stream: true,
    });
    const types = [];
    let text = '';
    let completed = null;
    for await (const event of stream) {
      if (types.at(-1) !== event.type) types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    assert.deepEqual(types, ['response.created', 'response.in_progress',
      'response.output_item.added', 'response.content_part.added', 'response.output_text.delta',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done',
      'response.completed']);
    assert.equal(text.split(' ').length, 5, text);
    assert.ok(completed, 'a response.completed event');
    assert.equal(completed.output[0].content[0].text, text);
    assert.equal(completed.usage.output_tokens, 5);
  });

  test('an unknown model is a NotFoundError (404, model_not_found)', async () => {
    await assert.rejects(
      client().chat.completions.create({
        model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1,
      }),
      (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found',
    );
  });
});
