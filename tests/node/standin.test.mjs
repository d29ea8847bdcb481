// The real `openai` npm client (pinned in package.json, installed by `npm ci`) against
// `sparkctl simulate serve --as ENGINE`, one engine per run (SPARKCTL_ENGINE), the real binary
// (SPARKCTL_BIN). The stand-in listens on 127.0.0.1, port 0; the port comes from its stderr
// line, readiness from /health polled with a deadline, and the process group is killed at the
// end. Timing is checked against the schedule the stand-in reports in its headers
// (X-Sparkctl-Scheduled-Ttft-Ms, X-Sparkctl-Scheduled-Itl-Ms, X-Sparkctl-Speed): never earlier
// than scheduled, and within a generous deadline.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const BIN = process.env.SPARKCTL_BIN;
const ENGINE = process.env.SPARKCTL_ENGINE;
const KEY = 'sim-test-key';
const MODEL = 'sim-model';
const CONTEXT = 64;
const TTFT_MS = 120;
const ITL_MS = 15;
// A timer never fires early, but clocks differ by a little between processes.
const CLOCK_SLACK_MS = 5;
const DEADLINE_SLACK_MS = 5000;

// The engine's own command line (what `plan` renders, executable dropped).
const ARGV = {
  vllm: ['serve', 'org/sim-model', '--served-model-name', MODEL, '--host', '127.0.0.1',
    '--port', '0', '--max-model-len', String(CONTEXT), '--api-key', KEY],
  sglang: ['--model-path', 'org/sim-model', '--served-model-name', MODEL, '--host', '127.0.0.1',
    '--port', '0', '--context-length', String(CONTEXT), '--api-key', KEY],
  'llama.cpp': ['-m', 'sim-model.gguf', '--alias', MODEL, '--host', '127.0.0.1', '--port', '0',
    '-c', String(CONTEXT), '--api-key', KEY],
};

// The stand-in's documented tokenizer (src/sim/standin.h count_tokens): one token per
// whitespace-separated word; chat messages are joined with newlines.
const countTokens = (text) => text.split(/[ \n\t\r]+/).filter((w) => w.length > 0).length;

assert.ok(BIN, 'SPARKCTL_BIN names the sparkctl binary');
assert.ok(ARGV[ENGINE], `SPARKCTL_ENGINE is one of ${Object.keys(ARGV).join(', ')}`);

// A running stand-in: its base URL, and stop() to kill its process group.
async function startStandin(extra) {
  const home = mkdtempSync(join(tmpdir(), 'sparkctl-node-'));
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
  delete env.SPARKCTL_CONFIG;
  delete env.SPARKCTL_HARDWARE;
  const child = spawn(BIN, ['simulate', 'serve', '--as', ENGINE, '--timing',
    `fixed:${TTFT_MS},${ITL_MS}`, '--speed', '1', ...extra, '--', ...ARGV[ENGINE]], {
    env,
    detached: true, // its own process group, killed as one
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(home, { recursive: true, force: true });
  };
  try {
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no port within 20 s:\n${stderr}`)), 20000);
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        const m = /listening on [^\s:]+:(\d+)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`sparkctl simulate serve exited (${code}):\n${stderr}`));
      });
    });
    // vLLM and SGLang listen once ready; llama.cpp answers 503 while loading.
    const until = Date.now() + 20000;
    for (;;) {
      const status = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => 0);
      if (status === 200) break;
      if (Date.now() > until) throw new Error(`/health not 200 within 20 s:\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { baseURL: `http://127.0.0.1:${port}/v1`, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

let standin;
let baseURL;
before(async () => {
  standin = await startStandin([]);
  baseURL = standin.baseURL;
});
after(() => standin?.stop());

const client = () => new OpenAI({ apiKey: KEY, baseURL, maxRetries: 0, timeout: 30000 });

const MESSAGES = [
  { role: 'system', content: 'You answer in few words.' },
  { role: 'user', content: 'Say hello to the tests' },
];
const PROMPT_TOKENS = countTokens(MESSAGES.map((m) => m.content).join('\n'));

describe(`openai client against the ${ENGINE} stand-in`, () => {
  test('lists the served model', async () => {
    const ids = [];
    for await (const m of client().models.list()) ids.push(m.id);
    assert.deepEqual(ids, [MODEL]);
  });

  test('chat completion: text, usage exact, simulated markers', async () => {
    const { data, response } = await client()
      .chat.completions.create({ model: MODEL, messages: MESSAGES, max_tokens: 6 })
      .withResponse();
    assert.equal(response.headers.get('x-sparkctl-simulated'), '1');
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.system_fingerprint, 'sparkctl-sim');
    assert.equal(data.choices.length, 1);
    assert.equal(data.choices[0].finish_reason, 'length');
    assert.equal(countTokens(data.choices[0].message.content), 6);
    assert.equal(data.usage.prompt_tokens, PROMPT_TOKENS);
    assert.equal(data.usage.completion_tokens, 6);
    assert.equal(data.usage.total_tokens, PROMPT_TOKENS + 6);
  });

  test('chat streaming with stream_options.include_usage: tokens, usage, schedule', async () => {
    const maxTokens = 8;
    const started = performance.now();
    const { data: stream, response } = await client()
      .chat.completions.create({
        model: MODEL,
        messages: MESSAGES,
        max_tokens: maxTokens,
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    const speed = Number(response.headers.get('x-sparkctl-speed'));
    const ttft = Number(response.headers.get('x-sparkctl-scheduled-ttft-ms'));
    const itl = Number(response.headers.get('x-sparkctl-scheduled-itl-ms'));
    assert.equal(speed, 1);
    assert.equal(ttft, TTFT_MS);
    assert.equal(itl, ITL_MS);
    let text = '';
    let pieces = 0;
    let firstAt;
    let lastAt;
    let usage;
    let finish;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices) {
        if (choice.finish_reason) finish = choice.finish_reason;
        if (choice.delta?.content) {
          lastAt = performance.now() - started;
          firstAt ??= lastAt;
          text += choice.delta.content;
          pieces += 1;
        }
      }
    }
    assert.equal(pieces, maxTokens);
    assert.equal(countTokens(text), maxTokens);
    assert.equal(finish, 'length');
    assert.ok(usage, 'a usage chunk at the end');
    assert.equal(usage.prompt_tokens, PROMPT_TOKENS);
    assert.equal(usage.completion_tokens, maxTokens);
    assert.equal(usage.total_tokens, PROMPT_TOKENS + maxTokens);
    // Never before the schedule; within a generous deadline of it.
    const lastScheduled = (ttft + itl * (maxTokens - 1)) / speed;
    assert.ok(firstAt >= ttft / speed - CLOCK_SLACK_MS, `first token at ${firstAt} ms`);
    assert.ok(lastAt >= lastScheduled - CLOCK_SLACK_MS, `last token at ${lastAt} ms`);
    assert.ok(lastAt <= lastScheduled + DEADLINE_SLACK_MS, `last token at ${lastAt} ms`);
  });

  test('chat streaming without include_usage sends no usage', async () => {
    const stream = await client().chat.completions.create({
      model: MODEL, messages: MESSAGES, max_tokens: 3, stream: true,
    });
    let pieces = 0;
    for await (const chunk of stream) {
      assert.equal(chunk.usage ?? null, null);
      for (const choice of chunk.choices) if (choice.delta?.content) pieces += 1;
    }
    assert.equal(pieces, 3);
  });

  test('completions, plain and streamed', async () => {
    const prompt = 'Once upon a time';
    const done = await client().completions.create({ model: MODEL, prompt, max_tokens: 5 });
    assert.equal(done.object, 'text_completion');
    assert.equal(countTokens(done.choices[0].text), 5);
    assert.equal(done.usage.prompt_tokens, countTokens(prompt));
    assert.equal(done.usage.completion_tokens, 5);
    const stream = await client().completions.create({
      model: MODEL, prompt, max_tokens: 4, stream: true, stream_options: { include_usage: true },
    });
    let text = '';
    let usage;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices) text += choice.text;
    }
    assert.equal(countTokens(text), 4);
    assert.equal(usage.prompt_tokens, countTokens(prompt));
    assert.equal(usage.completion_tokens, 4);
  });

  test('responses, whole and streamed: output_text, events, usage', async () => {
    const input = 'tell me a story';
    const done = await client().responses.create({ model: MODEL, input, max_output_tokens: 5 });
    assert.equal(done.object, 'response');
    assert.equal(countTokens(done.output_text), 5);
    assert.equal(done.usage.input_tokens, countTokens(input));
    assert.equal(done.usage.output_tokens, 5);
    const stream = await client().responses.create({
      model: MODEL, input, max_output_tokens: 4, stream: true,
    });
    let text = '';
    let completed;
    const numbered = [];
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
      numbered.push(event.sequence_number);
    }
    assert.equal(countTokens(text), 4);
    assert.equal(completed.usage.output_tokens, 4);
    // vLLM and SGLang number the events; llama.cpp does not.
    if (ENGINE === 'llama.cpp') {
      assert.ok(numbered.every((n) => n === undefined));
    } else {
      assert.deepEqual(numbered, numbered.map((_, i) => i));
    }
  });

  test('a wrong API key is refused with 401 (AuthenticationError)', async () => {
    const bad = new OpenAI({ apiKey: 'not-the-key', baseURL, maxRetries: 0 });
    await assert.rejects(
      bad.chat.completions.create({ model: MODEL, messages: MESSAGES, max_tokens: 2 }),
      (err) => {
        assert.ok(err instanceof OpenAI.AuthenticationError, `${err}`);
        assert.equal(err.status, 401);
        return true;
      },
    );
  });

  test('a prompt over the context is a 400 (BadRequestError) in the engine\'s shape', async () => {
    const long = Array.from({ length: CONTEXT + 10 }, (_, i) => `w${i}`).join(' ');
    const request = { model: MODEL, messages: [{ role: 'user', content: long }], max_tokens: 4 };
    // The engines' words: V:vllm/entrypoints/openai/serving_engine.py _validate_input,
    // S:python/sglang/srt/managers/tokenizer_manager.py _validate_one_request,
    // LC:tools/server/server-context.cpp (ERROR_TYPE_EXCEED_CONTEXT_SIZE).
    const words = {
      vllm: /^This model's maximum context length is 64 tokens\. However, your request has 74 input tokens\./,
      sglang: /^The input \(74 tokens\) is longer than the model's context length \(64 tokens\)\.$/,
      'llama.cpp': /^request \(74 tokens\) exceeds the available context size \(64 tokens\)/,
    }[ENGINE];
    await assert.rejects(client().chat.completions.create(request), (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `${err}`);
      assert.equal(err.status, 400);
      if (ENGINE === 'sglang') {
        // SGLang's ErrorResponse is flat ({"object": "error", "message", ...}), not under
        // "error", so the client carries no message: the raw body is checked below.
        assert.equal(err.error, undefined);
      } else {
        assert.match(err.error.message, words);
      }
      return true;
    });
    const raw = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(request),
    });
    assert.equal(raw.status, 400);
    const body = await raw.json();
    if (ENGINE === 'vllm') {
      // {"error": ErrorInfo} (V:vllm/entrypoints/openai/protocol.py ErrorResponse).
      assert.deepEqual(Object.keys(body), ['error']);
      assert.equal(body.error.type, 'BadRequestError');
      assert.equal(body.error.code, 400);
    } else if (ENGINE === 'sglang') {
      // S:python/sglang/srt/entrypoints/openai/protocol.py ErrorResponse.
      assert.equal(body.object, 'error');
      assert.match(body.message, words);
      assert.equal(body.code, 400);
    } else {
      // LC:tools/server/server-task.cpp server_task_result_error::to_json.
      assert.equal(body.error.type, 'exceed_context_size_error');
      assert.equal(body.error.n_prompt_tokens, 74);
      assert.equal(body.error.n_ctx, CONTEXT);
    }
  });
});

// ignore_eos and min_tokens as each engine reads them, against a stand-in whose simulated model
// ends every sequence after EOS_AFTER tokens (--eos-after).
describe(`ignore_eos and min_tokens on the ${ENGINE} stand-in`, () => {
  const EOS_AFTER = 5;
  let eos;
  before(async () => {
    eos = await startStandin(['--eos-after', String(EOS_AFTER)]);
  });
  after(() => eos?.stop());
  const create = (extra) => new OpenAI({ apiKey: KEY, baseURL: eos.baseURL, maxRetries: 0 })
    .chat.completions.create({ model: MODEL, messages: MESSAGES, max_tokens: 10, ...extra });

  test('the model stops at its EOS: finish_reason stop, usage counts what it sent', async () => {
    const r = await create({});
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(countTokens(r.choices[0].message.content), EOS_AFTER);
    assert.equal(r.usage.completion_tokens, EOS_AFTER);
  });

  test('ignore_eos runs to max_tokens', async () => {
    const r = await create({ ignore_eos: true });
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage.completion_tokens, 10);
  });

  test('min_tokens delays the EOS where the engine accepts it', async () => {
    const r = await create({ min_tokens: 7 });
    if (ENGINE === 'llama.cpp') {
      // llama.cpp has no min_tokens (LC:tools/server/server-schema.cpp): ignored.
      assert.equal(r.usage.completion_tokens, EOS_AFTER);
    } else {
      assert.equal(r.usage.completion_tokens, 7);
      assert.equal(r.choices[0].finish_reason, 'stop');
    }
  });

  test('min_tokens above max_tokens is refused where the engine checks it', async () => {
    if (ENGINE === 'llama.cpp') {
      const r = await create({ min_tokens: 20 });
      assert.equal(r.usage.completion_tokens, EOS_AFTER);
      return;
    }
    await assert.rejects(create({ min_tokens: 20 }), (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `${err}`);
      if (ENGINE === 'vllm') {
        // V:vllm/sampling_params.py SamplingParams._verify_args.
        assert.equal(err.error.message,
          'min_tokens must be less than or equal to max_tokens=10, got 20.');
      }
      return true;
    });
  });

  if (ENGINE === 'llama.cpp') {
    test('n_predict wins over max_tokens', async () => {
      const r = await create({ n_predict: 3, ignore_eos: true });
      assert.equal(r.usage.completion_tokens, 3);
      assert.equal(r.choices[0].finish_reason, 'length');
    });
  }
});
