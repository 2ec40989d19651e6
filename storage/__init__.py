"""Tables, migrations, queries, cache and retention. Handed its configuration; reads no environment."""
