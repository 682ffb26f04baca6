/**
 * `convert` maps between the stored form of an object and the form a given API version serves.
 * Only Events need it: the real apiserver stores one Event and serves it both as core `v1` and as
 * `events.k8s.io/v1`, renaming fields (`involvedObject` ↔ `regarding`, `message` ↔ `note`, …).
 * The fake stores Events in core `v1` form.
 */
import type { ResourceInfo } from './resources.js';

type Obj = Record<string, unknown>;

/** Core v1 Event field ↔ events.k8s.io/v1 Event field. */
const eventFields: readonly (readonly [core: string, events: string])[] = [
  ['involvedObject', 'regarding'],
  ['related', 'related'],
  ['message', 'note'],
  ['reason', 'reason'],
  ['type', 'type'],
  ['eventTime', 'eventTime'],
  ['series', 'series'],
  ['reportingComponent', 'reportingController'],
  ['reportingInstance', 'reportingInstance'],
  ['action', 'action'],
  ['source', 'deprecatedSource'],
  ['firstTimestamp', 'deprecatedFirstTimestamp'],
  ['lastTimestamp', 'deprecatedLastTimestamp'],
  ['count', 'deprecatedCount'],
];

function isEventsV1(info: ResourceInfo): boolean {
  return info.group === 'events.k8s.io';
}

function rename(obj: Obj, from: 0 | 1, apiVersion: string): Obj {
  const out: Obj = { apiVersion, kind: 'Event', metadata: obj['metadata'] };
  for (const pair of eventFields) {
    const value = obj[pair[from]];
    if (value !== undefined && value !== null && value !== '') out[pair[from === 0 ? 1 : 0]] = value;
  }
  return out;
}

/** `toStorage` converts an object received on `info`'s endpoint to its stored form. */
export function toStorage(info: ResourceInfo, obj: Obj): Obj {
  return isEventsV1(info) ? rename(obj, 1, 'v1') : obj;
}

/** `fromStorage` converts a stored object to the form `info`'s endpoint serves. */
export function fromStorage(info: ResourceInfo, obj: Obj): Obj {
  return isEventsV1(info) ? rename(obj, 0, 'events.k8s.io/v1') : obj;
}
