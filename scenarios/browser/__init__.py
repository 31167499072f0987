"""The agent's app driven in a real browser (Chromium through Playwright): the browser
driver of the step library and of the browser tests."""
