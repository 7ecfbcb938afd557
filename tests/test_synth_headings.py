"""`rageval synth --generator headings`: section titles (with their path) and the section bodies they
point to, in Markdown, reStructuredText and HTML. Expected sections are derived by hand from the
markup rules (CommonMark, docutils); the Markdown rules are also checked against markdown-it-py, a
CommonMark implementation, on generated documents."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rageval.corpora.docs import html_text
from rageval.synthesis.headings import Section, html_sections, markup_of, question, sections

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def found(text: str, markup: str) -> list[tuple[tuple[str, ...], str]]:
    """(path, body text) of every section, after checking each span's invariants."""
    result = sections(text, markup)
    check_invariants(text, result)
    return [(s.path, text[s.start:s.end]) for s in result]


def check_invariants(text: str, result: list[Section]) -> None:
    """Spans inside the text, trimmed, non-empty, in document order and non-overlapping; paths non-empty."""
    previous_end = 0
    for section in result:
        assert 0 <= previous_end <= section.start < section.end <= len(text)
        body = text[section.start:section.end]
        assert body == body.strip() and body
        assert section.path and all(section.path)
        previous_end = section.end


# --- Markdown ---------------------------------------------------------------------------------------

def test_markdown_paths_follow_nesting_and_a_parent_body_stops_at_its_first_subsection():
    doc = ("Preamble text belongs to no section.\n\n"
           "# Project\n\nProject intro.\n\n"
           "## Install\n\nInstall intro.\n\n"
           "### From source\nClone the repository.\n\n"
           "## Usage\n\n"
           "#### Deep\nDeep body.\n\n"
           "## Empty\n   \n"
           "# Second top\nLast body.\n")
    assert found(doc, "markdown") == [
        (("Project",), "Project intro."),
        (("Project", "Install"), "Install intro."),
        (("Project", "Install", "From source"), "Clone the repository."),
        # "Usage" and "Empty" have empty bodies; a level 4 right under a level 2 has a path of 3
        (("Project", "Usage", "Deep"), "Deep body."),
        (("Second top",), "Last body."),
    ]


def test_markdown_offsets_are_python_string_offsets_into_the_text_as_given():
    doc = "# Café ☕\n\n  Ünïcode bödy  \n\n"
    [section] = sections(doc, "markdown")
    # "# Café ☕\n" is 9 characters (not 12 UTF-8 bytes), then "\n" and two spaces: the body starts at 12
    assert (section.start, section.end) == (12, 12 + len("Ünïcode bödy"))
    assert section.path == ("Café ☕",)


def test_markdown_headings_inside_code_are_not_titles():
    doc = ("# Setup\n\nRun this:\n\n"
           "```bash\n# install the package\npip install rageval\n```\n\n"
           "~~~\n## not a heading either\n```\n# still inside the tilde fence\n~~~\n\n"
           "````markdown\n```\n# inside a four-backtick fence\n```\n````\n\n"
           "    # indented code, not a heading\n\n"
           "\t# tab-indented code\n\n"
           "Paragraph line\n    # a paragraph's continuation, not a heading\n\n"
           "## Configure\nSet the key.\n")
    body = doc[doc.index("Run this:"):doc.index("\n\n## Configure")]
    assert found(doc, "markdown") == [(("Setup",), body), (("Setup", "Configure"), "Set the key.")]
    # a fence never closed runs to the end of the document
    assert found("# A\nbody\n```\n# B\nmore\n", "markdown") == [(("A",), "body\n```\n# B\nmore")]


def test_markdown_setext_headings_and_front_matter():
    doc = ("---\ntitle: Guide\n# a YAML comment, not a heading\n---\n\n"
           "Guide\n=====\n\nWhat the guide covers.\n\n"
           "Getting\nstarted\n-------\nFirst steps.\n\n***\n\n"
           "A thematic break after a blank line is no underline:\n\n---\n\n"
           "    Indented code\n---\n\n"
           "- a list item\n---\n\n"
           "> a quote\n---\n\n"
           "Still the body of getting started.\n")
    getting_started = doc[doc.index("First steps."):].strip()
    assert found(doc, "markdown") == [
        (("Guide",), "What the guide covers."),
        (("Guide", "Getting started"), getting_started),  # a setext title takes the paragraph's lines
    ]
    # without a closing line there is no front matter: the --- is a thematic break
    assert found("---\n# Title\nbody\n", "markdown") == [(("Title",), "body")]


def test_markdown_atx_heading_forms():
    doc = ("#hashtag is not a heading\n####### seven is not a heading\n\n"
           "   ### Three spaces ###\nbody three\n\n"
           "## Closing hashes ##   \nbody closing\n\n"
           "# Trailing#hash kept\nbody trailing\n\n"
           "## Escaped \\#\nbody escaped\n\n"
           "#\nbody under an empty heading\n\n"
           "## Child of an empty heading\nchild body\n")
    assert found(doc, "markdown") == [
        (("Three spaces",), "body three"),
        (("Closing hashes",), "body closing"),
        (("Trailing#hash kept",), "body trailing"),
        (("Trailing#hash kept", "Escaped #"), "body escaped"),
        # the empty heading ends "Escaped" but asks nothing and is left out of its children's paths
        (("Child of an empty heading",), "child body"),
    ]


def test_markdown_html_blocks_and_block_quotes_hold_no_titles():
    doc = ("# Doc\nintro\n\n"
           "<!--\n# commented out\n-->\n\n"
           "<details>\n# raw HTML up to the next blank line\n</details>\n\n"
           "> # a quoted heading\n> text\n\n"
           "<div>\n\n"
           "# After a blank line, a heading again\nyes\n")
    assert found(doc, "markdown") == [
        (("Doc",), doc[doc.index("intro"):doc.index("<div>") + len("<div>")]),
        (("After a blank line, a heading again",), "yes"),
    ]


def test_markdown_lazy_lines_of_quotes_and_lists_take_no_setext_underline():
    doc = ("# Top\n\n> quoted paragraph\nlazy line\n---\n\n- item\nlazy line\n---\n\n"
           # a fence inside a quote holds paragraph-like lines; the quote ends at the unquoted line
           "> ```\n> code in a quoted fence\nFirst after the quote\n---\nbody one\n\n"
           # a quoted heading is no paragraph: the next line starts a new one
           "> # a quoted heading\nSecond after the quote\n---\nbody two\n\n"
           # only a non-empty item numbered 1 interrupts a paragraph
           "Paragraph\n2. not a list: only 1. may interrupt a paragraph\n1.\n---\nbody three\n")
    top = ("Top",)
    assert found(doc, "markdown") == [
        (top, doc[doc.index("> quoted"):doc.index("\nFirst after")]),
        ((*top, "First after the quote"), "body one\n\n> # a quoted heading"),
        ((*top, "Second after the quote"), "body two"),
        ((*top, "Paragraph 2. not a list: only 1. may interrupt a paragraph 1."), "body three"),
    ]


def test_markdown_inline_markup_in_titles_is_reduced_to_text():
    doc = ("# Install `rageval` with **pip**\na\n"
           "## The [user guide](https://example.org/guide) and ![logo](logo.png)\nb\n"
           "## snake_case_name and *emphasis* and __strong__ and ~~old~~\nc\n"
           "## <a name=\"x\"></a>Anchored &amp; escaped \\*stars\\*\nd\n"
           "## Code keeps `**stars**` and `` a`b ``\ne\n\n"
           "Setext *title*\n--------------\nf\n")
    top = "Install rageval with pip"
    assert [path for path, _ in found(doc, "markdown")] == [
        (top,),
        (top, "The user guide and logo"),
        (top, "snake_case_name and emphasis and strong and old"),
        (top, "Anchored & escaped *stars*"),
        (top, "Code keeps **stars** and a`b"),
        (top, "Setext title"),
    ]


# Lines whose combinations exercise the CommonMark block rules a title depends on. List items change
# the indentation that later lines are measured from, so indented lines and list items are drawn apart.
_FLAT = ["", "", "Text here", "more text", "# A", "## B b", "### C ###", "#NoSpace", "#", "######",
         "####### seven", "===", "---", "- - -", "***", "___", "```", "```py", "~~~", "````", "``` a`b",
         "<!-- c", "-->", "<!-- x -->", "<div>", "</div>", "<span>", "<custom-tag>", "<?php", "?>",
         "<script>", "</script>", "<![CDATA[", "]]>", "<!DOCTYPE html>", "> quote", ">", "> # q", "> ```",
         "Title ==", "## trailing #hash", "## esc \\#", "## *em* `co de`"]
_INDENTED = ["  #### D", "\t# tab", "  ---", "    ---", "  ```", "  Para", "   ### three ##", "    # code",
             "    code"]
_LISTS = ["- item", "-", "1. one", "2. two", "* star"]


def _commonmark_sections(text: str) -> list[tuple[tuple[str, ...], str]]:
    """The sections as this module defines them, built from markdown-it-py's headings (outside block
    quotes): title = the heading's rendered text, body = its lines up to the next heading, trimmed."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(text)
    heads, quoted = [], 0
    for k, token in enumerate(tokens):
        quoted += {"blockquote_open": 1, "blockquote_close": -1}.get(token.type, 0)
        if token.type == "heading_open" and not quoted:
            inline = "".join(c.content if c.type in ("text", "code_inline") else " " if "break" in c.type else ""
                             for c in tokens[k + 1].children)
            heads.append((int(token.tag[1]), " ".join(inline.split()), token.map))
    lines = text.split("\n")
    stack, out = [], []
    for k, (level, title, (first, after)) in enumerate(heads):
        stack = [entry for entry in stack if entry[0] < level] + [(level, title)]
        end = heads[k + 1][2][0] if k + 1 < len(heads) else len(lines)
        body = "\n".join(lines[after:end]).strip()
        if title and body:
            out.append((tuple(t for _, t in stack if t), body))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(st.sampled_from(_FLAT + _INDENTED), min_size=1, max_size=14),
                 st.lists(st.sampled_from(_FLAT + _LISTS), min_size=1, max_size=14)))
def test_markdown_titles_agree_with_a_commonmark_implementation(lines):
    pytest.importorskip("markdown_it", reason="markdown-it-py (via ranx's rich, rageval[test]) is the reference")
    text = "\n".join(["Intro", *lines])  # not starting with --- : markdown-it knows no front matter
    assert found(text, "markdown") == _commonmark_sections(text)


# --- reStructuredText -----------------------------------------------------------------------------------

RST_LEVELS = """\
=========
 Project
=========
Project intro.

Install
=======
Install intro.

-----------
From source
-----------
Clone it.

Details
-------
Fine print.

Usage
=====
Use it.

Options
-------
Styles keep the level of their first appearance.

---
API
---
An overlined dash is a style of its own.

Errors
------
Raised errors.

Notes
~~~~~
A fifth style.
"""


def test_rst_levels_follow_each_styles_first_appearance():
    usage = ("Project", "Usage")
    assert found(RST_LEVELS, "rst") == [
        (("Project",), "Project intro."),
        (("Project", "Install"), "Install intro."),
        (("Project", "Install", "From source"), "Clone it."),
        (("Project", "Install", "From source", "Details"), "Fine print."),
        (usage, "Use it."),
        # underlined "-" is level 4 wherever it appears: right under a level 2 its path has 3 titles
        ((*usage, "Options"), "Styles keep the level of their first appearance."),
        ((*usage, "API"), "An overlined dash is a style of its own."),
        ((*usage, "API", "Errors"), "Raised errors."),
        ((*usage, "API", "Errors", "Notes"), "A fifth style."),
    ]


RST_NOT_TITLES = """\
Guide
=====
Text before a transition.

----------

Text after the transition.

Example::

    Not a title
    ===========

    ----------
    Not overlined
    ----------

.. code-block:: rst

    Heading in a directive
    ======================

A paragraph line
followed by a line
-------------------

Quoted::

::::::::::::
:: Title ::
::::::::::::

Next
====
Done.
"""


def test_rst_transitions_literal_blocks_and_paragraph_lines_are_not_titles():
    guide = RST_NOT_TITLES[RST_NOT_TITLES.index("Text before"):RST_NOT_TITLES.index("\n\nNext")]
    assert found(RST_NOT_TITLES, "rst") == [(("Guide",), guide), (("Next",), "Done.")]


def test_rst_underline_must_be_as_wide_as_the_title():
    doc = ("Title\n===\nBody A.\n\n"          # 3 < 5 characters: text
           "Real title\n==========\nBody B.\n\n"
           "中文标题\n=====\nBody C.\n\n"       # 4 wide characters are 8 columns: text
           "中文标题\n========\nBody D.\n\n"
           "- A bullet\n----------\nBody E.\n")
    assert found(doc, "rst") == [
        (("Real title",), "Body B.\n\n中文标题\n=====\nBody C."),
        (("中文标题",), "Body D.\n\n- A bullet\n----------\nBody E."),
    ]


def test_rst_a_rule_of_four_or_more_is_never_title_text_a_shorter_one_is():
    # as docutils reads them: "==========" over "----------" is an invalid marker (text), while a
    # rule under 4 characters is ordinary text, here a title underlined with "++++"
    doc = "Start\n=====\nA.\n\n==========\n----------\nB.\n\n++\n++++\nC.\n"
    assert found(doc, "rst") == [(("Start",), "A.\n\n==========\n----------\nB."), (("Start", "++"), "C.")]


def test_rst_inline_markup_in_titles_is_reduced_to_text():
    title = "``rageval run`` and :func:`evaluate` and `Guide <https://x>`_ and *emph* and **strong**"
    doc = f"{title}\n{'=' * len(title)}\n\nBody.\n"
    assert found(doc, "rst") == [(("rageval run and evaluate and Guide and emph and strong",), "Body.")]


# --- HTML ---------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html><html><head><title>Guide</title><style>h1 {color: red}</style></head>
<body><nav><a href="/">Home</a></nav>
<h1>User <em>guide</em><a class="headerlink" href="#g">¶</a></h1>
<p>Intro   paragraph
 over two lines.</p>
<h2 id="install">Install<br>from &amp; source</h2>
<p>Run <code>pip install</code>.</p>
<script>var h = "<h2>not a heading</h2>";</script>
<h3>  Empty  </h3>
<h2><span>Usage</span></h2><div><p>Call it.</p><p>Twice.</p></div>
<h4>Example</h4><p>First example.</p>
<h2>Reference</h2><p>Reference text.</p>
<h4>Example</h4><p>Second example.</p>
</body></html>"""


def test_html_headings_are_located_as_lines_of_the_loaders_text():
    text = html_text(PAGE)
    result = html_sections(PAGE, text)
    check_invariants(text, result)
    assert [(s.path, text[s.start:s.end]) for s in result] == [
        (("User guide",), "Intro paragraph\nover two lines."),        # the permalink ¶ is no part of it
        (("User guide", "Install from & source"), "Run pip install."),  # a <br> splits the heading's line
        (("User guide", "Usage"), "Call it.\nTwice."),                 # "Empty" has no body
        (("User guide", "Usage", "Example"), "First example."),
        (("User guide", "Reference"), "Reference text."),
        (("User guide", "Reference", "Example"), "Second example."),    # found after the first "Example"
    ]


def test_html_heading_missing_from_the_text_is_skipped():
    raw = "<h1>Kept</h1><p>one</p><h2>Dropped by another tool</h2><p>two</p><h2>Also kept</h2><p>three</p>"
    text = "Kept\none\ntwo\nAlso kept\nthree"
    assert [(s.path, text[s.start:s.end]) for s in html_sections(raw, text)] == [
        (("Kept",), "one\ntwo"), (("Kept", "Also kept"), "three")]


def test_sections_asks_for_the_raw_page_for_html_and_rejects_unknown_markup():
    with pytest.raises(ValueError, match="html_sections"):
        sections("Title\nbody", "html")
    with pytest.raises(ValueError, match="asciidoc"):
        sections("Title\nbody", "asciidoc")


# --- markup and question ------------------------------------------------------------------------

@pytest.mark.parametrize("path, text, expected", [
    ("guide.md", "no headings at all", "markdown"),
    ("docs/GUIDE.MARKDOWN", "", "markdown"),
    ("index.rst", "", "rst"),
    ("page.html", "", "html"),
    ("page.HTM", "", "html"),
    ("script.py", "# a comment\n", None),
    ("notes.txt", "Title\n=====\nbody\n", "rst"),
    (None, "# Title\nbody\n", "markdown"),
    ("notes.txt", "Title\n=====\n\n# Sub\nbody\n", "markdown"),  # an ATX heading makes it Markdown
    ("notes.txt", "```\n# comment\n```\nplain text\n", None),   # fenced, so no heading
    ("notes.txt", "######\nPart\n######\n", "rst"),              # an empty ATX heading counts for nothing
    (None, "just a paragraph\n\n----------\n\nand another\n", None),  # a transition is no title
])
def test_markup_of_reads_the_suffix_or_else_the_text(path, text, expected):
    assert markup_of(path, text) == expected


def test_a_byte_order_mark_before_the_first_title_does_not_hide_it():
    # the docs: loader keeps a UTF-8 file's BOM as the text's first character; offsets count it
    md = "\ufeff# Install\n\nRun pip.\n\n## From source\n\nClone it.\n"   # BOM + "# Install\n\n": 12 characters
    assert [(s.path, s.start, s.end) for s in sections(md, "markdown")] == [
        (("Install",), 12, 20), (("Install", "From source"), 38, 47)]
    rst = "\ufeffInstall\n=======\n\nRun pip.\n"
    assert [(s.path, s.start, s.end) for s in sections(rst, "rst")] == [(("Install",), 18, 26)]
    assert markup_of("notes.txt", rst) == "rst" and markup_of(None, md) == "markdown"


def test_question_joins_the_path_outermost_first():
    assert question(("Install", "From source")) == "Install > From source"
    assert question(("Usage",)) == "Usage"


# --- invariants on generated documents --------------------------------------------------------------

_FRAGMENTS = ["# Title", "## Sub", "### Deep #", "Title", "=====", "-----", "~~~~~", "```", "~~~", "    code",
              "Text::", "::::::", "* item", "> quote", "<!--", "-->", "<div>", "", "", " ", "\t", "para text",
              "---", "..", ".. note::", "   ## three"]


@SETTINGS
@given(st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=12)), max_size=30),
       st.sampled_from(["markdown", "rst"]))
def test_every_span_is_inside_trimmed_nonempty_and_disjoint(pieces, markup):
    text = "\n".join(pieces).replace("\r", "")
    check_invariants(text, sections(text, markup))


_TAGS = ["<h1>", "</h1>", "<h2>", "</h2>", "<h3>", "</h3>", "<p>", "</p>", "<br>", "<em>", "</em>",
         "<script>", "</script>", "<div>", "</div>", '<a class="headerlink">', "</a>", "\n", " "]


@SETTINGS
@given(st.lists(st.tuples(st.integers(1, 6), st.text(max_size=10),
                          st.lists(st.one_of(st.sampled_from(_TAGS), st.text(max_size=8)), max_size=8)),
                max_size=8))
def test_every_html_span_is_inside_trimmed_nonempty_and_disjoint(parts):
    raw = "".join(f"<h{level}>{title}</h{level}>" + "".join(body) for level, title, body in parts)
    text = html_text(raw)
    check_invariants(text, html_sections(raw, text))


# --- real documentation files shipped inside installed packages ------------------------------------

def _package_file(package: str, relative: str) -> Path:
    """A file inside an installed package; the test skips (with the reason) when it is absent."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        pytest.skip(f"{package} ships no {relative} in this version")
    return path


REAL_FILES = [
    ("numpy", "ma/README.rst"),
    ("numpy", "random/LICENSE.md"),
    ("huggingface_hub", "templates/datasetcard_template.md"),   # rageval[dense] / [generate]
    ("huggingface_hub", "templates/modelcard_template.md"),
    ("sklearn", "datasets/descr/iris.rst"),                      # rageval[dense], via sentence-transformers
]


@pytest.mark.parametrize("package, relative", REAL_FILES)
def test_real_documentation_files_satisfy_the_invariants(package, relative):
    path = _package_file(package, relative)
    text = path.read_text(encoding="utf-8")
    markup = markup_of(str(path), text)
    result = sections(text, markup)
    check_invariants(text, result)
    assert result, f"{path}: no section found"


def test_real_rst_file_numpy_masked_array_guide():
    text = _package_file("numpy", "ma/README.rst").read_text(encoding="utf-8")
    top = "A guide to masked arrays in NumPy"
    result = found(text, "rst")
    assert [path for path, _ in result] == [(top,)] + [(top, title) for title in (
        "History", "Main differences", "New features", "Using the new package with numpy.core.ma",
        "Using maskedarray with matplotlib", "Masked records",
        # "Optimizing maskedarray" is followed at once by a sibling title: no body, no question
        "Should masked arrays be filled before processing or not?", "Thanks", "Revision notes")]
    assert result[0][1] == (".. Contents::\n\nSee http://www.scipy.org/scipy/numpy/wiki/MaskedArray (dead link)\n"
                            "for updates of this document.")
    history = result[1][1]
    assert history.startswith("As a regular user of MaskedArray, I (Pierre G.F. Gerard-Marchant) became\n")
    assert history.endswith("place), which really slows things down.")
    assert result[8][1] == ("I'd like to thank Paul Dubois, Travis Oliphant and Sasha for the\n"
                            "original masked array package: without you, I would never have started\n"
                            "that (it might be argued that I shouldn't have anyway, but that's\n"
                            "another story...).  I also wish to extend these thanks to Reggie Dugard\n"
                            "and Eric Firing for their suggestions and numerous improvements.")


def test_real_markdown_file_numpy_random_license():
    text = _package_file("numpy", "random/LICENSE.md").read_text(encoding="utf-8")
    result = found(text, "markdown")
    assert [path for path, _ in result] == [("NCSA Open Source License",), ("3-Clause BSD License",),
                                            ("Components",)]
    assert result[2][1] == ("Many parts of this module have been derived from original sources, \n"
                            "often the algorithm's designer. Component licenses are located with \n"
                            "the component code.")


def test_real_markdown_front_matter_of_huggingface_card_template():
    text = _package_file("huggingface_hub", "templates/datasetcard_template.md").read_text(encoding="utf-8")
    assert "\n# For reference on dataset card metadata" in text.split("\n---\n")[0]
    paths = [path for path, _ in found(text, "markdown")]
    card = 'Dataset Card for {{ pretty_name | default("Dataset Name", true) }}'
    assert paths[0] == (card,)  # the YAML comments of the front matter are no headings
    # "Dataset Details" is followed at once by its subsection: only the subsection asks
    assert paths[1] == (card, "Dataset Details", "Dataset Description")
