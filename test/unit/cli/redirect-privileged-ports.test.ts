/**
 * `--redirect-privileged-ports`: off by default; with a kernel --l4-mode it fills the L4 state's
 * port redirects (80 → --http-port, 443 → --https-port, a pair skipped when the listener already is
 * on that port or on 0) and reserves the redirected ports against L4 services; with the user-space
 * mode it is a usage error that says why.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlagError, type PorticoConfig, parseFlags } from '../../../src/cli/flags.js';
import { l4TranslateOptionsFor, reservedPorts } from '../../../src/cli/l4-options.js';

function config(argv: readonly string[]): PorticoConfig {
  const command = parseFlags(argv);
  assert.equal(command.kind, 'run');
  return command.config;
}

const cases: ReadonlyArray<{ name: string; argv: string[]; want: { port: number; toPort: number }[] }> = [
  {
    name: 'without the flag there are no redirects, even in a kernel mode',
    argv: ['--l4-mode', 'iptables', '--http-port', '8080'],
    want: [],
  },
  {
    name: '80 and 443 go to the HTTP and HTTPS listeners',
    argv: [
      '--l4-mode',
      'iptables',
      '--redirect-privileged-ports',
      '--http-port',
      '8080',
      '--https-port',
      '8443',
    ],
    want: [
      { port: 80, toPort: 8080 },
      { port: 443, toPort: 8443 },
    ],
  },
  {
    name: 'a listener already on its privileged port needs no redirect',
    argv: ['--l4-mode', 'nftables', '--redirect-privileged-ports', '--http-port', '8080'],
    want: [{ port: 80, toPort: 8080 }],
  },
  {
    name: 'a listener on port 0 (any free port) is not redirected to',
    argv: ['--l4-mode', 'ipvs', '--redirect-privileged-ports', '--http-port', '0', '--https-port', '8443'],
    want: [{ port: 443, toPort: 8443 }],
  },
  {
    name: 'with both listeners on 80 and 443 nothing is redirected',
    argv: ['--l4-mode', 'iptables', '--redirect-privileged-ports'],
    want: [],
  },
];
for (const c of cases) {
  test(`--redirect-privileged-ports: ${c.name}`, () => {
    assert.deepEqual(l4TranslateOptionsFor(config(c.argv)).portRedirects, c.want);
  });
}

test('the redirected node ports are reserved: an L4 service cannot take them over', () => {
  const reserved = reservedPorts(
    config([
      '--l4-mode',
      'iptables',
      '--redirect-privileged-ports',
      '--http-port',
      '8080',
      '--https-port',
      '8443',
    ]),
  );
  assert.equal(reserved.get(80), '--redirect-privileged-ports');
  assert.equal(reserved.get(443), '--redirect-privileged-ports');
  assert.equal(reserved.get(8080), '--http-port');
});

test('with the user-space L4 mode (the default) the flag is a usage error that says why', () => {
  for (const argv of [
    ['--redirect-privileged-ports'],
    ['--l4-mode', 'userspace', '--redirect-privileged-ports', '--http-port', '8080'],
  ]) {
    assert.throws(
      () => parseFlags(argv),
      (err: unknown) =>
        err instanceof FlagError &&
        /--redirect-privileged-ports needs a kernel --l4-mode \(iptables, ipvs or nftables\)/.test(
          err.message,
        ) &&
        /installs no rules/.test(err.message),
    );
  }
});
