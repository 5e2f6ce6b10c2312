"""arXiv's HTML rendering of a paper (LaTeXML's output, ``https://arxiv.org/html/<id>``) → Markdown: the
sections with their titles, paragraphs, math as LaTeX (``<math alttext>`` → ``$…$``, display math and
equation tables → ``$$…$$``), figures as their image and caption, tables briefly (a pipe table), lists,
footnotes in place, and the bibliography as a References section. Pure: no I/O; the ``fulltext`` job
(``paperfeed/fulltext.py``) fetches the page and stores what this returns.

Parsed with the standard library's ``html.parser`` (forgiving of a page cut short, which it reads as far
as it goes) into a small tree: arXiv's pages are regular enough that class names say what each element
is, and no parser dependency is needed for that. Title, authors and abstract are left out: paperfeed has
them from arXiv's metadata and puts them above this text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
     "wbr"}
)  # fmt: skip
# Never text of the paper: the page's chrome, scripts, LaTeXML's error marks and "report issue" buttons.
_SKIP_TAGS = frozenset({"script", "style", "nav", "header", "footer", "button", "head", "noscript", "svg"})
_SKIP_CLASSES = frozenset(
    {"ltx_authors", "ltx_abstract", "ltx_title_document", "ltx_dates", "ltx_page_header", "ltx_page_footer",
     "ltx_ERROR", "ltx_note_mark", "ltx_TOC", "ltx_keywords", "ltx_classification", "sr-only",
     "ltx_page_logo", "package-alerts", "ltx_pagination", "ltx_bib_cited"}
)  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 5}
# Titles LaTeX sets in the text's run rather than above it.
_RUN_IN = frozenset({"ltx_title_paragraph", "ltx_title_subparagraph", "ltx_title_theorem", "ltx_title_proof"})
_SPACE = re.compile(r"\s+")
_TEX_COMMENT = re.compile(r"%\s*\n\s*")  # LaTeXML breaks long alttexts with a TeX comment


class NotLatexml(ValueError):
    """The page is not a LaTeXML document (an error page, a placeholder): nothing can be read from it."""


@dataclass(slots=True)
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def find(self, wanted: str) -> Node | None:
        """The first descendant (or itself) with this class."""
        if wanted in self.classes:
            return self
        for child in self.children:
            if isinstance(child, Node) and (found := child.find(wanted)) is not None:
                return found
        return None

    def find_all(self, tag: str) -> list[Node]:
        found = [self] if self.tag == tag else []
        for child in self.children:
            if isinstance(child, Node):
                found += child.find_all(tag)
        return found


@dataclass(frozen=True, slots=True)
class Figure:
    url: str  # absolute: arXiv's address of the image
    caption: str


@dataclass(frozen=True, slots=True)
class Converted:
    markdown: str
    figures: list[Figure]
    complete: bool  # False: the page ended before its document did (what it had is converted)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.closed: set[str] = set()  # classes of elements whose end tag was seen
        self.ending = False  # close(): what is left is a tag cut off mid-way, not text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):  # close up to the matching open element
            if self.stack[depth].tag == tag:
                if "ltx_document" in self.stack[depth].classes:
                    self.closed.add("ltx_document")
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        if self.ending:
            return
        self.stack[-1].children.append(data)


def _md_escape(text: str) -> str:
    # Markdown passes raw HTML through: '<' and '&' become entities (as serialize.paper_markdown does).
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _tex(node: Node) -> str:
    tex = node.attrs.get("alttext")
    if not tex:
        for annotation in node.find_all("annotation"):
            if annotation.attrs.get("encoding") == "application/x-tex":
                tex = "".join(c for c in annotation.children if isinstance(c, str))
                break
    if not tex:
        tex = _plain(node)
    tex = _TEX_COMMENT.sub("", tex).replace("\\displaystyle", "")
    return _SPACE.sub(" ", tex).strip()


def _plain(node: Node) -> str:
    return "".join(c if isinstance(c, str) else _plain(c) for c in node.children)


class _Writer:
    def __init__(self, base: str) -> None:
        self.base = base
        self.blocks: list[str] = []
        self.figures: list[Figure] = []
        self.footnote = 0

    # -- inline ------------------------------------------------------------------------------------

    def inline(self, node: Node) -> str:
        out: list[str] = []
        for child in node.children:
            if isinstance(child, str):
                out.append(_md_escape(child))
                continue
            out.append(self.inline_node(child))
        return "".join(out)

    def inline_node(self, node: Node) -> str:
        classes = node.classes
        if node.tag in _SKIP_TAGS or classes & _SKIP_CLASSES:
            return ""
        if node.tag == "math":
            tex = _tex(node)
            return f"$${tex}$$" if node.attrs.get("display") == "block" else f"${tex}$"
        if node.tag == "br":
            return " "
        if node.tag == "img":
            return ""
        if "ltx_role_footnote" in classes or "ltx_note" in classes:
            content = node.find("ltx_note_content")
            if content is None:
                return ""
            text = _SPACE.sub(" ", self.inline(_without(content, "ltx_tag_note"))).strip()
            return f" (Footnote: {text})" if text else ""
        text = self.inline(node)
        if node.tag == "a":
            href = node.attrs.get("href", "")
            if href.startswith(("http://", "https://")) and "#" not in href and "arxiv.org/html/" not in href:
                shown = _SPACE.sub(" ", text).strip()
                return href if shown in (href, "") else f"[{shown}]({href})"
            return text
        if not text.strip():
            return text
        if "ltx_font_bold" in classes or node.tag in ("b", "strong"):
            return _wrap(text, "**")
        if "ltx_font_italic" in classes or node.tag in ("em", "i"):
            return _wrap(text, "*")
        if "ltx_font_typewriter" in classes or node.tag == "code":
            return _wrap(text.replace("`", "'"), "`")
        return text

    def text(self, node: Node) -> str:
        return _SPACE.sub(" ", self.inline(node)).strip()

    # -- blocks ------------------------------------------------------------------------------------

    def block(self, node: Node) -> None:
        classes = node.classes
        if node.tag in _SKIP_TAGS or classes & _SKIP_CLASSES:
            return
        if node.tag in _HEADINGS and "ltx_title" in classes:
            title = _SPACE.sub(" ", _md_escape(_plain(node))).strip()
            if not title:
                return
            if classes & _RUN_IN:  # \paragraph{…}, "Theorem 1.", "Proof.": bold, not a heading
                self.blocks.append(f"**{title}**")
            else:
                level = 2 if "ltx_title_bibliography" in classes else _HEADINGS[node.tag]
                self.blocks.append(f"{'#' * level} {title}")
        elif "ltx_listing" in classes:  # code and algorithms, line by line
            lines = [_SPACE.sub(" ", self.inline(n)).strip() for n in _by_class(node, "ltx_listingline")]
            if any(lines):
                fence = "````" if any("```" in line for line in lines) else "```"
                self.blocks.append(fence + "\n" + "\n".join(lines) + "\n" + fence)
        elif "ltx_bibliography" in classes:
            self.bibliography(node)
        elif "ltx_equation" in classes or "ltx_equationgroup" in classes:
            self.equations(node)
        elif "ltx_figure" in classes and node.tag == "figure":
            self.figure(node)
        elif "ltx_table" in classes and node.tag == "figure":
            self.table(node)
        elif node.tag in ("ul", "ol") and ("ltx_itemize" in classes or "ltx_enumerate" in classes):
            self.listing(node, node.tag == "ol")
        elif node.tag == "p" or "ltx_p" in classes or node.tag == "blockquote":
            if text := self.text(node):
                self.blocks.append(text)
        elif node.tag == "math":
            self.blocks.append(self.inline_node(node))
        else:
            self.children(node)

    def children(self, node: Node) -> None:
        loose: list[str] = []  # text directly inside a container (LaTeXML puts some there)
        for child in node.children:
            if isinstance(child, str):
                loose.append(_md_escape(child))
            elif _is_inline(child):
                loose.append(self.inline_node(child))
            else:
                self._flush(loose)
                self.block(child)
        self._flush(loose)

    def _flush(self, loose: list[str]) -> None:
        text = _SPACE.sub(" ", "".join(loose)).strip()
        if text:
            self.blocks.append(text)
        loose.clear()

    def equations(self, node: Node) -> None:
        for row in node.find_all("tr"):
            if "ltx_eqn_row" not in row.classes and "ltx_equation" not in row.classes:
                continue
            maths = [_tex(m) for m in row.find_all("math")]
            tag = row.find("ltx_tag_equation") or row.find("ltx_tag_equationgroup")
            if not maths:
                continue
            tex = " ".join(maths)
            if tag is not None and (number := _plain(tag).strip().strip("()")):
                tex += f" \\tag{{{number}}}"
            self.blocks.append(f"$${tex}$$")

    def figure(self, node: Node) -> None:
        caption = self._caption(node)
        images = [img for img in node.find_all("img") if img.attrs.get("src")]
        for img in images:
            url = urljoin(self.base, img.attrs["src"])
            if url.startswith(("http://", "https://")):
                self.figures.append(Figure(url, caption))
                self.blocks.append(f"![{_alt(caption)}]({url})")
        if caption:
            self.blocks.append(f"*{caption}*" if not caption.startswith("*") else caption)

    def table(self, node: Node) -> None:
        if caption := self._caption(node):
            self.blocks.append(f"*{caption}*")
        for tabular in node.find_all("table"):
            if "ltx_tabular" not in tabular.classes:
                continue
            rows = []
            for tr in tabular.find_all("tr"):
                cells = [self.text(td).replace("|", "\\|") for td in tr.children
                         if isinstance(td, Node) and td.tag in ("td", "th")]  # fmt: skip
                if any(cells):
                    rows.append(cells)
            if rows:
                width = max(len(r) for r in rows)
                rows = [r + [""] * (width - len(r)) for r in rows]
                lines = [f"| {' | '.join(rows[0])} |", f"|{'---|' * width}"]
                lines += [f"| {' | '.join(r)} |" for r in rows[1:]]
                self.blocks.append("\n".join(lines))
            break  # one table per float: nested tabulars are its cells

    def listing(self, node: Node, ordered: bool) -> None:
        items = []
        for number, item in enumerate(
            (c for c in node.children if isinstance(c, Node) and c.tag == "li"), start=1
        ):
            text = self.text(_without(item, "ltx_tag_item"))
            items.append(f"{number}. {text}" if ordered else f"- {text}")
        if items:
            self.blocks.append("\n".join(items))

    def bibliography(self, node: Node) -> None:
        self.blocks.append("## References")
        items = []
        for li in node.find_all("li"):
            if "ltx_bibitem" not in li.classes:
                continue
            tag = li.find("ltx_tag_bibitem")
            label = _SPACE.sub(" ", _plain(tag)).strip() if tag else ""
            text = self.text(_without(li, "ltx_tag_bibitem"))
            if text:
                items.append(f"- {label} {text}".replace("-  ", "- ") if label else f"- {text}")
        if items:
            self.blocks.append("\n".join(items))

    def _caption(self, node: Node) -> str:
        for child in node.children:
            if isinstance(child, Node) and child.tag == "figcaption":
                return self.text(child)
        return ""


def _by_class(node: Node, cls: str) -> list[Node]:
    """Descendants of ``node`` with class ``cls``, in document order (not looking inside them)."""
    found: list[Node] = []
    for child in node.children:
        if isinstance(child, Node):
            found += [child] if cls in child.classes else _by_class(child, cls)
    return found


def _wrap(text: str, mark: str) -> str:
    inner = text.strip()
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{mark}{inner}{mark}{trail}"


def _alt(caption: str) -> str:
    short = caption.replace("[", "(").replace("]", ")").replace("*", "")
    return short if len(short) <= 120 else short[:117] + "..."


def _without(node: Node, cls: str) -> Node:
    """A copy of ``node`` without its descendants of class ``cls`` (an item's bullet, a note's number)."""
    kept: list[Node | str] = []
    for child in node.children:
        if isinstance(child, Node):
            if cls in child.classes:
                continue
            child = _without(child, cls)
        kept.append(child)
    return Node(node.tag, node.attrs, kept)


_INLINE_TAGS = frozenset({"span", "a", "em", "b", "i", "strong", "code", "sup", "sub", "cite", "math", "br",
                          "small", "abbr", "img"})  # fmt: skip


def _is_inline(node: Node) -> bool:
    return node.tag in _INLINE_TAGS and "ltx_para" not in node.classes and node.find("ltx_p") is None


def convert(html: str, url: str) -> Converted:
    """Markdown of the paper arXiv's HTML page ``html`` (fetched from ``url``) holds; raises NotLatexml when
    the page holds no LaTeXML document."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.ending = True
    builder.close()
    document = builder.root.find("ltx_document")
    if document is None:
        raise NotLatexml("the page holds no LaTeXML document (class ltx_document)")
    base = url if url.endswith("/") else url + "/"
    for found in builder.root.find_all("base"):  # arXiv's pages name their folder: <base href="/html/…/">
        if href := found.attrs.get("href"):
            base = urljoin(url, href)
            break
    writer = _Writer(base)
    writer.children(document)
    markdown = "\n\n".join(b for b in writer.blocks if b.strip())
    return Converted(markdown + "\n" if markdown else "", writer.figures, "ltx_document" in builder.closed)
