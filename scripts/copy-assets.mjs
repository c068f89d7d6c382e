// `npm run build`, after tsc: copies the files src/ ships beside its modules
// (Lua scripts, the status page) to dist/, where those modules read them.
import { cpSync } from "node:fs";

/** Folders under src/ whose files are read at run time, not compiled. */
const ASSET_FOLDERS = ["cluster/redis/lua", "http/status/page"];

for (const folder of ASSET_FOLDERS) {
  cpSync(new URL(`../src/${folder}`, import.meta.url), new URL(`../dist/${folder}`, import.meta.url), {
    recursive: true,
  });
}
