/** An enrich module that throws while it is imported: a configuration error (exit 2), never a crash loop. */
throw new Error("poison module: cannot load");
