/**
 * Reads a history JSON file (proto3 JSON, as `temporal workflow show --output json` and the Web UI
 * write it) into the History message the SDK's replayer takes.
 *
 * Why not the SDK's historyFromJSON: in this install npm nests one copy of protobufjs under
 * @temporalio/common and another under @temporalio/proto (the root holds gRPC's older major), and
 * historyFromJSON's JSON reader checks `instanceof Type` across the two copies ("type must be a
 * Type"). Reading with the copy @temporalio/proto was built with gives the same message.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils';

type Reader = (json: unknown) => History;

function protoReader(): Reader {
  const fromCommon = createRequire(createRequire(import.meta.url).resolve('@temporalio/common'));
  const fromProto = createRequire(fromCommon.resolve('@temporalio/proto'));
  const proto = fromCommon('@temporalio/proto') as object;
  const { patchProtobufRoot } = fromCommon('@temporalio/proto/lib/patch-protobuf-root') as { patchProtobufRoot(p: object): { lookupType(name: string): unknown } };
  const { fromJson } = fromProto('protobufjs/ext/protojson') as { fromJson(type: unknown, json: unknown, options: object): History };
  const historyType = patchProtobufRoot(proto).lookupType('temporal.api.history.v1.History');
  return (json) => fromJson(historyType, json, { ignoreUnknownFields: true });
}

let reader: Reader | undefined;

export async function loadHistory(file: string): Promise<History> {
  const json: unknown = JSON.parse(await fs.readFile(file, 'utf8'));
  if (!reader) {
    try {
      historyFromJSON(json);
      reader = historyFromJSON;
    } catch {
      reader = protoReader();
    }
  }
  return reader(json);
}
