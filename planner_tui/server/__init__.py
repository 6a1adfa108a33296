"""The plant server (`planner-tui serve`): one process per plant owns its database and serves every
console, command and script at once. `core` is the plant as the server holds it (versions, the answer
cache, the change stream, who is asking), `http` its API, `listen` its sockets and lifecycle, `apidoc`
writes docs/api.md. Layers: store <- engine <- feeds <- access <- server <- console / cli; no Textual."""
