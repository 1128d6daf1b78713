#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=17179869184 node
// The allocator settings are @posttrain/engine's allocatorEnvironment (see runtime.ts).
import { main } from "./program.js";

process.exitCode = await main(process.argv.slice(2));
