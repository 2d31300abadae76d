"""A reply's Markdown as HTML for Qt's rich-text view, with highlighted code.

markdown-it-py parses (CommonMark plus tables and strikethrough); Pygments
highlights fenced code with inline styles, because Qt's HTML subset ignores
style sheets with classes. Each code block gets a header with its language
and a ``copy:N`` link; the view copies ``code_blocks[N]`` when it is clicked.
Raw HTML in a reply is shown as text, never interpreted, and an image is
shown as a link with its alt text: a view that fetched it would read whatever
path a model wrote (``/dev/zero``, a named pipe) on the GUI thread.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import lru_cache

from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

LIGHT_STYLE, DARK_STYLE = "friendly", "monokai"
MONO = "'DejaVu Sans Mono', 'Menlo', 'Consolas', monospace"


@dataclass
class Rendered:
    html: str
    code_blocks: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)


@lru_cache(maxsize=2)
def _formatter(dark: bool) -> HtmlFormatter:
    return HtmlFormatter(noclasses=True, nowrap=True, style=DARK_STYLE if dark else LIGHT_STYLE)


def _image_as_link(renderer, tokens, index, options, env) -> str:
    token = tokens[index]
    alt = renderer.renderInlineAsText(token.children or [], options, env).strip() or "image"
    source = str(token.attrGet("src") or "")
    return f'<a href="{html.escape(source)}">[image: {html.escape(alt)}]</a>'


def _table_open(renderer, tokens, index, options, env) -> str:
    # Qt's rich text draws no cell borders or padding unless the table asks for them.
    return ('<table border="1" cellspacing="0" cellpadding="5" '
            'style="border-collapse: collapse; border-color: #8c959f; margin: 6px 0;">\n')


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
    md.add_render_rule("image", _image_as_link)
    md.add_render_rule("table_open", _table_open)
    return md


@lru_cache(maxsize=64)
def _lexer(language: str):
    # No guessing for unlabelled blocks: Pygments' guesses on short snippets are
    # often wrong (prose labelled "Carbon"), and a wrong label misleads more than none.
    try:
        return get_lexer_by_name(language or "text")
    except ClassNotFound:
        return get_lexer_by_name("text")


@lru_cache(maxsize=256)
def _highlighted(code: str, language: str, dark: bool) -> str:
    # Highlighting is most of a render's cost; a finished block never changes,
    # so while a reply streams each closed block is highlighted once.
    return highlight(code, _lexer(language), _formatter(dark)).rstrip("\n")


def _is_closed(token, lines: list[str]) -> bool:
    """Whether a fence has its closing marker (an unclosed one runs to the end)."""
    if token.type != "fence" or not token.map:
        return True
    last = token.map[1] - 1
    return last > token.map[0] and last < len(lines) and lines[last].strip().startswith(token.markup)


def render_markdown(text: str, dark: bool = False, streaming: bool = False) -> Rendered:
    """``streaming``: the text is still growing; a code block whose fence is not
    closed yet is shown plain and highlighted once it closes."""
    md = _parser()
    lines = text.split("\n") if streaming else []
    result = Rendered("")
    tokens = md.parse(text)
    pieces: list[str] = []
    start = 0
    # Fences are rendered by hand (a header with a copy link, highlighted body);
    # everything between them goes through markdown-it's own renderer.
    for index, token in enumerate(tokens):
        if token.type not in ("fence", "code_block"):
            continue
        pieces.append(md.renderer.render(tokens[start:index], md.options, {}))
        start = index + 1
        plain = streaming and not _is_closed(token, lines)
        pieces.append(_code_block(token.content, (token.info or "").strip().split(" ")[0], dark, result, plain))
    pieces.append(md.renderer.render(tokens[start:], md.options, {}))
    result.html = "".join(pieces).strip()  # a trailing newline would show as a space after the text
    return result


def _code_block(code: str, language: str, dark: bool, result: Rendered, plain: bool = False) -> str:
    number = len(result.code_blocks)
    code = code.rstrip("\n")
    result.code_blocks.append(code)
    shown_language = language or "text"
    result.languages.append(shown_language)
    body = html.escape(code) if plain else _highlighted(code, language.lower(), dark)
    background = "#272822" if dark else "#f6f8fa"
    border = "#44475a" if dark else "#d0d7de"
    header_color = "#bbbbbb" if dark else "#57606a"
    return (
        f'<table width="100%" cellspacing="0" cellpadding="6" '
        f'style="background-color:{background}; border: 1px solid {border}; margin: 6px 0;">'
        f'<tr><td style="color:{header_color}; font-size: small;">{html.escape(shown_language)}'
        f'&nbsp;&nbsp;·&nbsp;&nbsp;<a href="copy:{number}">Copy</a></td></tr>'
        f'<tr><td><pre style="font-family: {MONO}; white-space: pre; margin: 0;">{body}</pre></td></tr>'
        f"</table>"
    )


WARM_LANGUAGES = ("python", "javascript", "typescript", "bash", "json", "c", "cpp", "rust", "go", "java",
                  "html", "css", "sql", "yaml")


def warm_up() -> None:
    """Build the parser and import the common lexers ahead of the first reply
    (26 ms on first use here, 0.1 ms after); run it off the GUI thread."""
    sample = "".join(f"```{lang}\nx\n```\n" for lang in WARM_LANGUAGES)
    render_markdown(sample)
    render_markdown(sample, dark=True)
