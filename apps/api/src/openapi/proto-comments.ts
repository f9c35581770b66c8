// Leading comments of the proto contract, keyed by fully-qualified element name. protoc-gen-es
// embeds descriptors without source info, so the comments come from a `buf build` image of
// proto/ (the same inputs `buf generate` reads), decoded with @bufbuild/protobuf. Output is a
// pure function of the .proto files, so generation stays deterministic.
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, type DescriptorProto, type EnumDescriptorProto, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureProtoDeps } from '../../../../scripts/proto-deps.mjs';
import { repoRoot } from '../../../../scripts/toolchain.mjs';

/**
 * Keys: `pkg.Message`, `pkg.Message.field`, `pkg.Message.Nested`, `pkg.Enum`, `pkg.Enum.VALUE`,
 * `pkg.Service`, `pkg.Service.Method`. Values: the leading comment as one line.
 */
export type ProtoComments = ReadonlyMap<string, string>;

// Field numbers inside descriptor.proto that source-code-info paths are made of.
const FILE_MESSAGE = 4;
const FILE_ENUM = 5;
const FILE_SERVICE = 6;
const MESSAGE_FIELD = 2;
const MESSAGE_NESTED = 3;
const MESSAGE_ENUM = 4;
const ENUM_VALUE = 2;
const SERVICE_METHOD = 2;

let cached: ProtoComments | undefined;

/** Builds the image with the repository's pinned buf and indexes its comments (cached per process). */
export function loadProtoComments(): ProtoComments {
  if (cached) return cached;
  ensureProtoDeps();
  const bytes = execFileSync(join(repoRoot, 'node_modules', '.bin', 'buf'), ['build', '--as-file-descriptor-set', '-o', '-'], {
    cwd: repoRoot,
    maxBuffer: 64 * 1024 * 1024,
  });
  cached = indexComments(fromBinary(FileDescriptorSetSchema, new Uint8Array(bytes)).file);
  return cached;
}

export function indexComments(files: readonly FileDescriptorProto[]): ProtoComments {
  const out = new Map<string, string>();
  for (const file of files) {
    const byPath = new Map<string, string>();
    for (const loc of file.sourceCodeInfo?.location ?? []) {
      const text = tidy(loc.leadingComments ?? '');
      if (text) byPath.set(loc.path.join('.'), text);
    }
    const put = (name: string, path: number[]) => {
      const text = byPath.get(path.join('.'));
      if (text) out.set(name, text);
    };
    const prefix = file.package ? `${file.package}.` : '';
    const walkEnum = (e: EnumDescriptorProto, name: string, path: number[]) => {
      put(name, path);
      e.value.forEach((v, i) => put(`${name}.${v.name}`, [...path, ENUM_VALUE, i]));
    };
    const walkMessage = (m: DescriptorProto, name: string, path: number[]) => {
      put(name, path);
      m.field.forEach((f, i) => put(`${name}.${f.name}`, [...path, MESSAGE_FIELD, i]));
      m.nestedType.forEach((n, i) => walkMessage(n, `${name}.${n.name}`, [...path, MESSAGE_NESTED, i]));
      m.enumType.forEach((e, i) => walkEnum(e, `${name}.${e.name}`, [...path, MESSAGE_ENUM, i]));
    };
    file.messageType.forEach((m, i) => walkMessage(m, `${prefix}${m.name}`, [FILE_MESSAGE, i]));
    file.enumType.forEach((e, i) => walkEnum(e, `${prefix}${e.name}`, [FILE_ENUM, i]));
    file.service.forEach((s, i) => {
      put(`${prefix}${s.name}`, [FILE_SERVICE, i]);
      s.method.forEach((m, j) => put(`${prefix}${s.name}.${m.name}`, [FILE_SERVICE, i, SERVICE_METHOD, j]));
    });
  }
  return out;
}

/** `// A\n// B` arrives as " A\n B\n": one line, single spaces. */
function tidy(comment: string): string {
  return comment
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');
}
