#!/usr/bin/env node
/**
 * facegate-admin: the central admin's tool. Generates the admin key pair, and signs and
 * sends enroll / remove / list / unlock requests to one door or the whole fleet, waiting
 * for every addressed door to answer. See docs/enrollment.md.
 *
 * `person set|suspend|resume` and `schedules set|reset` change access rules without photos
 * (docs/access.md).
 *
 * Exit codes: 0 every addressed device answered ok; 1 a device answered with an error
 * (or bad usage / input); 2 the request did not get through in time: not connected,
 * refused or unacknowledged by the broker, or not every expected device answered. The
 * message names the failed step and what to do.
 */
import { chmod, mkdir, readFile, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import type { MqttClient } from 'mqtt';
import {
  AdminError,
  DEFAULT_TOPIC_PREFIX,
  connectBroker,
  describeDeviceError,
  sendRequest,
  watchEvents,
  type BrokerOptions,
  type RequestOutcome,
} from '../enrollment/admin-client.js';
import { DEFAULT_ENROLLMENT_CONFIG } from '../enrollment/config.js';
import { isPersonId, isPersonName, PERSON_ID_RULE, PERSON_NAME_RULE } from '../identity.js';
import {
  base64Length,
  DEFAULT_MAX_SIDE,
  normalizePhoto,
  PhotoNormalizeError,
} from '../enrollment/photo-normalize.js';
import { generateAdminKeyPair, parseAdminKey } from '../enrollment/keys.js';
import { sniffPhotoFormat } from '../enrollment/photo-format.js';
import type { RequestArgs, SignedCommand } from '../enrollment/protocol.js';

interface ConnectionFlags {
  broker: string;
  ca?: string;
  cert?: string;
  keyFile?: string;
  username?: string;
  passwordFile?: string;
  prefix: string;
}
interface RequestFlags extends ConnectionFlags {
  device: string;
  key: string;
  expect: number;
  timeout: number;
  lifetime: number;
  resend: number;
  progress: boolean;
}

function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number >= 0');
  return n;
}

/** `--person <id>`: the protocol's person id rule, checked here so a typo is not a round trip. */
function personId(value: string): string {
  if (!isPersonId(value)) throw new InvalidArgumentError(`must be ${PERSON_ID_RULE}`);
  return value;
}

/** `--name <name>`: the protocol's display-name rule. */
function personName(value: string): string {
  if (!isPersonName(value)) throw new InvalidArgumentError(`must be ${PERSON_NAME_RULE}`);
  return value;
}

/**
 * Reads a file named on the command line; a missing, unreadable or directory path becomes a
 * usage error naming the file and what it was for (not a raw ENOENT stack).
 */
async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (err as Error).message;
    throw new AdminError(`cannot read ${what} ${path}: ${why}`, 'usage');
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function withConnection(cmd: Command): Command {
  return cmd
    .requiredOption('--broker <url>', 'broker URL (mqtt://, mqtts://, ws://, wss://)')
    .option('--ca <file>', 'PEM CA certificate(s) to trust for TLS')
    .option('--cert <file>', 'PEM client certificate (mutual TLS)')
    .option('--key-file <file>', 'PEM private key of the client certificate')
    .option('--username <name>', 'broker user name')
    .option('--password-file <file>', 'file holding the broker password (never on the command line)')
    .option('--prefix <topic>', 'topic namespace of the fleet', DEFAULT_TOPIC_PREFIX);
}

function withRequest(cmd: Command): Command {
  return withConnection(cmd)
    .requiredOption('--device <id>', 'device id, or "all" for the whole fleet')
    .requiredOption('--key <file>', 'admin private key (PEM PKCS#8 or JWK) from `keygen`')
    .option('--expect <n>', 'devices that must answer ok (for --device all)', positiveInt, 1)
    .option(
      '--timeout <seconds>',
      'give up after this many seconds, counted from the start (connect and publish included)',
      positiveInt,
      30,
    )
    .option('--lifetime <seconds>', 'request validity (exp - iat)', positiveInt, 300)
    .option(
      '--resend <seconds>',
      're-publish the same signed request after this long without every answer (doubling); 0: once',
      nonNegativeNumber,
      3,
    )
    .option('--no-progress', 'no progress display on stderr');
}

async function brokerOptions(flags: ConnectionFlags): Promise<BrokerOptions> {
  const read = (path: string | undefined, what: string): Promise<Buffer | undefined> =>
    path ? readInput(path, what) : Promise.resolve(undefined);
  const password = flags.passwordFile
    ? (await readInput(flags.passwordFile, 'password file')).toString('utf8').trim()
    : undefined;
  return {
    url: flags.broker,
    username: flags.username,
    password,
    ca: await read(flags.ca, 'CA certificate'),
    cert: await read(flags.cert, 'client certificate'),
    key: await read(flags.keyFile, 'client key'),
  };
}

async function runRequest(
  flags: RequestFlags,
  cmd: SignedCommand,
  args: RequestArgs,
  render?: (outcome: RequestOutcome) => string,
): Promise<number> {
  // --timeout counts from here: connecting, an unacknowledged publish and the answers share it.
  const started = Date.now();
  const timeoutMs = flags.timeout * 1000;
  const key = await parseAdminKey((await readInput(flags.key, 'signing key')).toString('utf8'), flags.key);
  if (flags.device === 'all' && flags.expect === 1) {
    process.stderr.write(
      'note: --device all waits for ONE answer; pass --expect <fleet size> to wait for every door\n',
    );
  }
  const options = await brokerOptions(flags);
  const client = await connectBroker({
    ...options,
    connectTimeoutMs: Math.max(1000, Math.min(10_000, timeoutMs - (Date.now() - started))),
  }).catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    throw new AdminError(
      `not connected: ${message}\n  what to do: check the broker address, port, TLS files and credentials, and that the broker runs`,
      'connect',
    );
  });
  const bar =
    flags.progress && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: `${cmd} → ${flags.device} [{bar}] {value}/{total} devices | {duration}s`,
            hideCursor: true,
            clearOnComplete: false,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  let ticker: NodeJS.Timeout | undefined;
  let outcome: RequestOutcome;
  try {
    bar?.start(flags.expect, 0);
    ticker = bar ? setInterval(() => bar.updateETA(), 500) : undefined;
    if (!bar && flags.progress) process.stderr.write(`${cmd}: waiting for ${flags.expect} device(s)...\n`);
    outcome = await sendRequest(client, key, cmd, args, {
      device: flags.device,
      expect: flags.expect,
      timeoutMs: Math.max(0, timeoutMs - (Date.now() - started)),
      lifetimeSeconds: flags.lifetime,
      resendMs: flags.resend * 1000,
      prefix: flags.prefix,
      onResponse: (response, received) => {
        bar?.update(received);
        if (!bar && flags.progress) {
          process.stderr.write(
            `  ${response.device}: ${response.status}${response.error ? ` (${response.error.code})` : ''}\n`,
          );
        }
      },
    });
  } finally {
    if (ticker) clearInterval(ticker);
    bar?.stop();
    // Forced and bounded: a broker that broke the connection must not hold the tool up.
    await Promise.race([
      client.endAsync(true).catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, 1000).unref()),
    ]);
  }
  process.stdout.write(
    render
      ? render(outcome)
      : `${JSON.stringify({ ...outcome, elapsedMs: Date.now() - started }, null, 2)}\n`,
  );
  if (outcome.ok) return 0;
  // Each door's refusal, with the door's hint under it when it gave one.
  for (const r of outcome.responses.filter((r) => r.status === 'error'))
    process.stderr.write(`${describeDeviceError(r).join('\n')}\n`);
  const failure = outcome.failure;
  if (failure) {
    process.stderr.write(
      `facegate-admin: ${failure.step.replace(/_/g, ' ')}: ${failure.message}\n  what to do: ${failure.hint}\n`,
    );
  }
  if (outcome.timedOut) {
    process.stderr.write(
      `timeout: ${outcome.responses.length} of ${flags.expect} device(s) answered within ${flags.timeout} s\n`,
    );
  }
  return failure?.step === 'error_answer' ? 1 : 2;
}

async function keygen(out: string, force: boolean): Promise<void> {
  const pair = await generateAdminKeyPair();
  await mkdir(out, { recursive: true, mode: 0o700 });
  const files: [string, string, number][] = [
    ['admin.key.pem', pair.privatePem, 0o600],
    ['admin.private.jwk.json', `${JSON.stringify(pair.privateJwk, null, 2)}\n`, 0o600],
    ['admin.pub.pem', pair.publicPem, 0o644],
    ['admin.pub.jwk.json', `${JSON.stringify(pair.publicJwk, null, 2)}\n`, 0o644],
  ];
  if (!force) {
    for (const [name] of files) {
      const exists = await access(join(out, name)).then(
        () => true,
        () => false,
      );
      if (exists)
        throw new AdminError(`${join(out, name)} exists; refusing to overwrite a key (use --force)`, 'usage');
    }
  }
  for (const [name, text, mode] of files) {
    // Created with the mode directly (no window where the private key is world-readable).
    await writeFile(join(out, name), text, { mode });
    await chmod(join(out, name), mode);
  }
  process.stdout.write(
    `${JSON.stringify({ kid: pair.kid, privateKey: join(out, 'admin.key.pem'), publicKey: join(out, 'admin.pub.pem') }, null, 2)}\n`,
  );
  process.stderr.write(
    `Keep ${join(out, 'admin.key.pem')} secret. Put ${join(out, 'admin.pub.pem')} on every door and list it in enrollment.trustedKeys.\n`,
  );
}

/**
 * Reads, checks and normalises the photos (EXIF rotation applied, scaled to `maxSide`,
 * JPEG), then checks them against the door's default limits (`enrollment.maxImageBytes`,
 * `enrollment.maxRequestBytes`) so a too large request is refused here with a clear reason.
 */
async function readImages(paths: string[], maxSide: number, verbose: boolean): Promise<string[]> {
  const limits = DEFAULT_ENROLLMENT_CONFIG;
  if (paths.length > limits.maxImages)
    throw new AdminError(`at most ${limits.maxImages} photos per request (enrollment.maxImages)`, 'usage');
  const encoded: string[] = [];
  for (const path of paths) {
    const bytes = await readInput(path, 'photo');
    if (sniffPhotoFormat(bytes) === null) throw new AdminError(`${path} is not a JPEG or PNG`, 'usage');
    let photo;
    try {
      photo = await normalizePhoto(bytes, { maxSide });
    } catch (err) {
      if (err instanceof PhotoNormalizeError) throw new AdminError(`${path}: ${err.message}`, 'usage');
      throw err;
    }
    if (verbose) {
      process.stderr.write(
        `${path}: ${bytes.length} bytes → ${photo.width}x${photo.height} JPEG, ${photo.jpeg.length} bytes${photo.orientation > 1 ? ` (EXIF orientation ${photo.orientation} applied)` : ''}\n`,
      );
    }
    if (photo.jpeg.length > limits.maxImageBytes) {
      throw new AdminError(
        `${path} is still ${photo.jpeg.length} bytes after scaling to ${maxSide} px; a door accepts at most ${limits.maxImageBytes} (enrollment.maxImageBytes): use a smaller --max-side`,
        'usage',
      );
    }
    encoded.push(photo.jpeg.toString('base64'));
  }
  // The signed request adds a header, claims and the base64url of all that (4/3).
  const requestBytes = base64Length(encoded.reduce((n, e) => n + e.length + 3, 0) + 1024) + 200;
  if (requestBytes > limits.maxRequestBytes) {
    throw new AdminError(
      `the request would be about ${requestBytes} bytes; a door accepts at most ${limits.maxRequestBytes} (enrollment.maxRequestBytes): send fewer photos or use a smaller --max-side`,
      'usage',
    );
  }
  return encoded;
}

/** `--groups a,b` → ["a", "b"] (the device validates the names). */
function groupList(value: string): string[] {
  const groups = value
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g.length > 0);
  if (groups.length === 0) throw new InvalidArgumentError('give one or more group names, comma-separated');
  return groups;
}

/** `--valid-until 2027-01-31T18:00:00+01:00`, or `none` to clear the bound. */
function instant(value: string): string | null {
  if (value === 'none') return null;
  if (
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}(:?\d{2})?)$/.test(value) ||
    Number.isNaN(Date.parse(value))
  )
    throw new InvalidArgumentError(
      'must be an ISO-8601 instant with Z or an offset (2027-01-31T18:00:00+01:00), or "none"',
    );
  return value;
}

interface AccessFlags {
  groups?: string[];
  validFrom?: string | null;
  validUntil?: string | null;
}

function accessArgs(opts: AccessFlags): Record<string, unknown> {
  return {
    ...(opts.groups !== undefined ? { groups: opts.groups } : {}),
    ...(opts.validFrom !== undefined ? { validFrom: opts.validFrom } : {}),
    ...(opts.validUntil !== undefined ? { validUntil: opts.validUntil } : {}),
  };
}

function withAccess(cmd: Command): Command {
  return cmd
    .option(
      '--groups <names>',
      'access groups, comma-separated (default for a new person: default)',
      groupList,
    )
    .option('--valid-from <instant>', 'valid from this ISO-8601 instant (inclusive), or "none"', instant)
    .option('--valid-until <instant>', 'valid until this ISO-8601 instant (exclusive), or "none"', instant);
}

/** `list --table`: one row per person and door: the stored credential and whether the door admits them now. */
function listTable(outcome: RequestOutcome): string {
  const color = process.stdout.isTTY === true;
  const table = new Table({
    head: ['device', 'person', 'name', 'faces', 'groups', 'valid from', 'valid until', 'suspended', 'now'],
    // No colour codes when the table is piped or saved.
    style: { head: color ? ['red'] : [], border: color ? ['grey'] : [] },
  });
  for (const r of outcome.responses) {
    if (r.status !== 'ok') {
      table.push([r.device, { colSpan: 8, content: `error ${r.error?.code}: ${r.error?.message}` }]);
      continue;
    }
    const data = r.data as { people?: Record<string, unknown>[] } | undefined;
    for (const p of data?.people ?? []) {
      const now = p.accessNow as { allowed?: boolean; reason?: string; group?: string } | undefined;
      const iso = (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toISOString() : '');
      table.push([
        r.device,
        String(p.id),
        String(p.name),
        String(p.faces),
        Array.isArray(p.groups) ? p.groups.join(', ') : '',
        iso(p.validFromMs),
        iso(p.validUntilMs),
        p.suspended ? 'yes' : 'no',
        now ? (now.allowed ? `allowed (${now.group})` : `denied: ${now.reason}`) : '?',
      ]);
    }
  }
  return `${table.toString()}\n`;
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('facegate-admin')
    .description('Sign and send enrollment requests to facegate doors over MQTT')
    .showHelpAfterError('(add --help for usage)');

  program
    .command('keygen')
    .description('create an Ed25519 admin key pair (private key files are mode 0600)')
    .requiredOption('--out <dir>', 'directory for the key files')
    .option('--force', 'overwrite existing key files', false)
    .action(async (opts: { out: string; force: boolean }) => keygen(opts.out, opts.force));

  withAccess(withRequest(program.command('enroll')))
    .description(
      'enroll (or re-enroll) a person from one or more photos, or (--at-door) from the door camera, optionally with groups and validity',
    )
    .requiredOption('--person <id>', 'person id (letters, digits, . _ -)', personId)
    .requiredOption('--name <name>', 'display name (1-100 printable characters)', personName)
    .option(
      '--max-side <px>',
      'photos are rotated by EXIF, scaled to this longest side and re-encoded as JPEG',
      positiveInt,
      DEFAULT_MAX_SIDE,
    )
    .option(
      '--allow-duplicate',
      'enroll even if the face matches another enrolled person (identical twins); signed into the request, logged and audited by the door',
      false,
    )
    .option(
      '--at-door',
      'walk-up enrollment (capture_enroll): the door takes the best frames of the one person in front of its camera; no photos',
      false,
    )
    .option(
      '--seconds <s>',
      `with --at-door: how long the door watches its camera (at most enrollment.captureMaxSeconds, default ${DEFAULT_ENROLLMENT_CONFIG.captureMaxSeconds})`,
      positiveInt,
      10,
    )
    .argument('[image...]', 'JPEG or PNG photos showing only this person (not with --at-door)')
    .action(
      async (
        images: string[],
        opts: RequestFlags &
          AccessFlags & {
            person: string;
            name: string;
            maxSide: number;
            allowDuplicate: boolean;
            atDoor: boolean;
            seconds: number;
          },
      ) => {
        if (opts.atDoor) {
          if (images.length > 0)
            throw new AdminError('--at-door takes no photos: the door captures them', 'usage');
          if (opts.seconds > DEFAULT_ENROLLMENT_CONFIG.captureMaxSeconds) {
            process.stderr.write(
              `note: ${opts.seconds} s is over the default door limit of ${DEFAULT_ENROLLMENT_CONFIG.captureMaxSeconds} s (enrollment.captureMaxSeconds); a door with the default refuses it\n`,
            );
          }
          // The door answers only after the capture: wait for it, and send the request only
          // once more at most after it (a re-delivery during the capture gets the same answer).
          // The answer's templates[].thumbnail are base64 JPEGs (e.g. `jq -r` + `base64 -d`).
          const flags = {
            ...opts,
            timeout: Math.max(opts.timeout, opts.seconds + 30),
            resend: opts.resend === 0 ? 0 : Math.max(opts.resend, opts.seconds + 10),
          };
          setExit(
            await runRequest(flags, 'capture_enroll', {
              person: opts.person,
              name: opts.name,
              seconds: opts.seconds,
              ...accessArgs(opts),
              ...(opts.allowDuplicate ? { allowDuplicate: true } : {}),
            }),
          );
          return;
        }
        if (images.length === 0) throw new AdminError('give one or more photos, or --at-door', 'usage');
        setExit(
          await runRequest(opts, 'enroll', {
            person: opts.person,
            name: opts.name,
            images: await readImages(images, opts.maxSide, opts.progress),
            ...accessArgs(opts),
            // Only sent when set: requests without it stay byte-identical to older tools'.
            ...(opts.allowDuplicate ? { allowDuplicate: true } : {}),
          }),
        );
      },
    );

  const person = program
    .command('person')
    .description("change a person's credential on the door(s) without photos (update_person)");
  withAccess(withRequest(person.command('set')))
    .description('set groups and/or validity')
    .requiredOption('--person <id>', 'person id', personId)
    .action(async (opts: RequestFlags & AccessFlags & { person: string }) => {
      const args = accessArgs(opts);
      if (Object.keys(args).length === 0)
        throw new AdminError('person set: give --groups, --valid-from and/or --valid-until', 'usage');
      setExit(await runRequest(opts, 'update_person', { person: opts.person, ...args }));
    });
  for (const [name, suspended, text] of [
    ['suspend', true, 'refuse the person at once (faces are kept; resume undoes it)'],
    ['resume', false, 'lift a suspension'],
  ] as const) {
    withRequest(person.command(name))
      .description(text)
      .requiredOption('--person <id>', 'person id', personId)
      .action(async (opts: RequestFlags & { person: string }) =>
        setExit(await runRequest(opts, 'update_person', { person: opts.person, suspended })),
      );
  }

  const schedules = program
    .command('schedules')
    .description("set a door's access groups and windows (set_schedules)");
  withRequest(schedules.command('set'))
    .description(
      'store the door(s) groups and windows; they override access.groups of the config until reset',
    )
    .requiredOption(
      '--file <json>',
      'JSON file: {"timeZone"?: "Europe/Berlin", "groups": {name: {"always": true} | {"windows": [...], "holidays": [...]}}}',
    )
    .action(async (opts: RequestFlags & { file: string }) => {
      let spec: unknown;
      try {
        spec = JSON.parse((await readInput(opts.file, 'schedules file')).toString('utf8'));
      } catch (err) {
        throw new AdminError(`${opts.file}: ${(err as Error).message}`, 'usage');
      }
      setExit(await runRequest(opts, 'set_schedules', spec as RequestArgs));
    });
  withRequest(schedules.command('reset'))
    .description("drop the stored schedules: the door(s) go back to their config's access.groups")
    .action(async (opts: RequestFlags) => setExit(await runRequest(opts, 'set_schedules', { reset: true })));

  withRequest(program.command('remove'))
    .description('remove a person and all their faces')
    .requiredOption('--person <id>', 'person id', personId)
    .action(async (opts: RequestFlags & { person: string }) =>
      setExit(await runRequest(opts, 'remove', { person: opts.person })),
    );

  withRequest(program.command('list'))
    .description("list the enrolled people of each device, with each person's state on that door")
    .option('--table', 'a table (device, person, groups, validity, suspended, now) instead of JSON')
    .action(async (opts: RequestFlags & { table?: boolean }) =>
      setExit(await runRequest(opts, 'list', {}, opts.table ? listTable : undefined)),
    );

  withRequest(program.command('unlock'))
    .description('open the door once (only if the device enables enrollment.allowUnlock)')
    .option('--reason <text>', 'why (stored in the audit log)')
    .action(async (opts: RequestFlags & { reason?: string }) =>
      setExit(await runRequest(opts, 'unlock', opts.reason ? { reason: opts.reason } : {})),
    );

  withConnection(program.command('watch'))
    .description('print live events (one JSON object per line) until Ctrl-C')
    .addOption(new Option('--device <id>', 'device id or "all"').default('all'))
    .option('--count <n>', 'exit after this many events', positiveInt)
    .option('--timeout <seconds>', 'exit after this many seconds', positiveInt)
    .action(async (opts: ConnectionFlags & { device: string; count?: number; timeout?: number }) => {
      const client: MqttClient = await connectBroker(await brokerOptions(opts), 'facegate-admin-watch');
      let seen = 0;
      await new Promise<void>((resolve, reject) => {
        const timer = opts.timeout ? setTimeout(resolve, opts.timeout * 1000) : undefined;
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
        client.once('close', () => reject(new AdminError('connection to the broker lost', 'connect')));
        watchEvents(
          client,
          opts.device,
          (device, event) => {
            process.stdout.write(`${JSON.stringify({ device, event })}\n`);
            if (opts.count !== undefined && ++seen >= opts.count) {
              clearTimeout(timer);
              resolve();
            }
          },
          opts.prefix,
        ).then(() => process.stderr.write(`watching ${opts.device} events on ${opts.broker}\n`), reject);
      });
      client.removeAllListeners('close');
      await client.endAsync();
    });

  return program;
}

async function main(): Promise<void> {
  let exitCode = 0;
  const program = buildProgram((code) => (exitCode = code));
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    const kind = err instanceof AdminError ? err.kind : 'usage';
    process.stderr.write(`facegate-admin: ${(err as Error).message}\n`);
    exitCode = kind === 'connect' || kind === 'timeout' ? 2 : 1;
  }
  process.exitCode = exitCode;
}

void main();
