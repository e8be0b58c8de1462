"""Model backends, each registered by name in :data:`specql.llm.base.BACKENDS`."""
