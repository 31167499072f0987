"""The mobile API: sessions, agent state, dialogs and the event stream, over aiohttp."""
