// Node edge adapter for the pure byte codecs in src/io: reads files into bytes, writes bytes atomically.
// Only this layer touches the file system, so the codecs run unchanged in browsers.

import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { MobileNetError } from '../errors.js';
import { decodeNpy, encodeNpy } from '../io/npy.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsContents } from '../io/safetensors.js';
import type { Tensor } from '../tensor/tensor.js';

/** Reading or writing a file failed at the operating-system level; `code` is Node's (ENOENT, EACCES, …). */
export class FileError extends MobileNetError {
  constructor(
    message: string,
    readonly path: string,
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** The whole file as bytes. */
export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (e) {
    throw fileError('cannot read', path, e);
  }
}

/**
 * Replaces `path` with `bytes` so that readers see the old file or the new one, never a half-written one:
 * the bytes go to a temporary file in the same folder (same file system, so rename is atomic), which is
 * flushed to disk and then renamed over the target. On failure the temporary file is removed.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  let handle: FileHandle | undefined;
  try {
    handle = await open(temporary, 'wx');
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temporary, path);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await rm(temporary, { force: true }).catch(() => undefined);
    throw fileError('cannot write', path, e);
  }
  await syncFolder(dirname(path));
}

/** `<target>.<pid>.<12 hex>.tmp`, as writeFileAtomic names its temporary files. */
const TEMPORARY = /^.+\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/**
 * Removes the temporary files that writes into `folder` left behind when their process was killed mid-write
 * (those of processes still running are kept). Returns the names removed.
 */
export async function removeStaleTemporaries(folder: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(folder).catch(() => [] as string[])) {
    const match = TEMPORARY.exec(name);
    if (!match || isRunning(Number(match[1]))) continue;
    await rm(join(folder, name), { force: true });
    removed.push(name);
  }
  return removed;
}

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Makes the rename itself durable. Best effort: some platforms (Windows) cannot open a folder for syncing. */
async function syncFolder(folder: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(folder, 'r');
    await handle.sync();
  } catch {
    // the file is written and renamed; only durability across a power cut is less certain
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

export async function readNpyFile(path: string): Promise<Tensor> {
  return decodeNpy(await readBytes(path), path);
}

export async function writeNpyFile(path: string, t: Tensor): Promise<void> {
  await writeFileAtomic(path, encodeNpy(t));
}

export async function readSafetensorsFile(path: string): Promise<SafetensorsContents> {
  return decodeSafetensors(await readBytes(path), path);
}

export async function writeSafetensorsFile(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * The error for `path`, the file the caller named: Node's message ends with the path the system call used
 * (`ENOENT: no such file or directory, open '<target>.<pid>.<hex>.tmp'`), which for a write is the temporary file,
 * so that ending is dropped.
 */
function fileError(what: string, path: string, cause: unknown): FileError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  const reason = message.replace(/, \w+ '.*'$/s, '');
  const hint = code === 'ENOENT' && what === 'cannot write' ? ` (does the folder ${dirname(path)} exist?)` : '';
  return new FileError(`${what} ${path}: ${reason}${hint}`, path, code, { cause });
}
