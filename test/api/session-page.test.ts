import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderSessionPage } from "../../gateway/api/session-page.js";

describe("session details page", () => {
  it("renders the summary's Markdown and escapes any HTML a model could have put in it", () => {
    const html = renderSessionPage(`AI usage <x>`, "### Shell commands\n- `rm -rf ~/`\n\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
    assert.match(html, /<h3>Shell commands<\/h3>/);
    assert.match(html, /<code>rm -rf ~\/<\/code>/);
    assert.match(html, /<table>/);
    assert.match(html, /<title>AI usage &#60;x&#62;<\/title>/);
    assert.ok(!html.includes("<script>"), "raw HTML from the summary must not reach the page");
    assert.ok(!/<img[^>]*onerror/.test(html));
    assert.match(html, /&#60;script&#62;alert\(1\)&#60;\/script&#62;/);
  });
});
