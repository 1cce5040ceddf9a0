"""The history store: schema, engine, one batched read per message, writes behind the reply."""
