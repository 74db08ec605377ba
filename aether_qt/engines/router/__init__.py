"""L4 router: which tier answers, the prompt, and the local model (DESIGN.md §7).

Exports: :mod:`.router` (:class:`~.router.Router`: route choice before any model
call, model loading with progress, generation with cancel), :mod:`.prompt`
(:func:`~.prompt.build_prompt`: persona system prompt, history, fenced data fitted
to the context window; :func:`~.prompt.neutralize` of special tokens),
:mod:`.gpt4all_provider` (the local llama.cpp model through gpt4all, its KV cache
kept across turns by :mod:`.kv_prefix`), :mod:`.catalogue` (GGUF chat models to
fetch, pinned by SHA-256, with fit-to-machine marks),
:mod:`.reflex` (templated answers without a model), :mod:`.models` (the bundled
SmolLM2 GGUF prepared for gpt4all, user models, SHA-256s), :mod:`.gguf` (a GGUF
header reader) and :mod:`.sentences` (:class:`~.sentences.SentenceSplitter` for
speech as tokens stream).
"""
