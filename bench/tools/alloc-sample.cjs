// Preloaded (node --require) into a bench master by `--alloc-sample`: samples
// every allocation (objects a scavenge or a full GC collected included, which
// is what feeds GC) from GMNET_BENCH_ALLOC_FROM_MS after start for
// GMNET_BENCH_ALLOC_FOR_MS, and writes a .heapprofile into GMNET_BENCH_ALLOC_DIR
// (or a .error file saying why not). A master that exits before the window
// ends writes nothing: the floor scenario at --seconds 10 lives long enough.
// Summarise one with: npx tsx bench/tools/alloc-top.ts FILE
"use strict";
const inspector = require("node:inspector");
const { writeFileSync } = require("node:fs");
const { basename } = require("node:path");

const dir = process.env.GMNET_BENCH_ALLOC_DIR;
if (dir) {
  const fromMs = Number(process.env.GMNET_BENCH_ALLOC_FROM_MS ?? 6000);
  const forMs = Number(process.env.GMNET_BENCH_ALLOC_FOR_MS ?? 15000);
  const name = `${basename(process.argv[1] ?? "node", ".js")}-${process.pid}.heapprofile`;
  const session = new inspector.Session();
  session.connect();
  const start = {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  };
  setTimeout(() => {
    const failed = (error) => writeFileSync(`${dir}/${name}.error`, `${error}\n`);
    session.post("HeapProfiler.startSampling", start, (error) => {
      if (error) return failed(error);
      setTimeout(() => {
        session.post("HeapProfiler.stopSampling", (stopError, result) => {
          if (stopError) return failed(stopError);
          writeFileSync(`${dir}/${name}`, JSON.stringify(result.profile));
        });
      }, forMs).unref();
    });
  }, fromMs).unref();
}
