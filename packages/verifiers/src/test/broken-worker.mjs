// A worker that fails while loading, like a dist/ whose imports are broken.
throw new Error("broken worker module");
