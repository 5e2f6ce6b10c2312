// What script adds to the pages, all of it progressive enhancement: every page works without it.
// - Upvotes in place: the ▲ form goes through the JSON API (POST/DELETE /api/papers/{id}/upvote with the
//   X-CSRF-Token header from <meta name="csrf-token">, present on signed-in pages only), so the page neither
//   reloads nor re-sorts. If that fails, the form is sent as it is, and the server's answer shows.
// - Abstracts clamped to three lines on cards, each with "More", and "Expand all" on the feed.
// - Keyboard shortcuts (j/k, o, u, x, /, ?), listed in the #shortcuts dialog.
// - The light/dark switch; theme.js applies the remembered choice before the first paint.
(function () {
  "use strict";

  var THEME_KEY = "paperfeed-theme";
  var THEMES = ["auto", "light", "dark"];
  var THEME_ICON = { auto: "◐", light: "☀", dark: "☾" };
  var THEME_NAME = { auto: "automatic", light: "light", dark: "dark" };

  function $(selector, root) {
    return (root || document).querySelector(selector);
  }

  function $all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  // -- light / dark -------------------------------------------------------------------------------

  function currentTheme() {
    var set = document.documentElement.getAttribute("data-theme");
    return set === "light" || set === "dark" ? set : "auto";
  }

  function showTheme(button) {
    var theme = currentTheme();
    var next = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    button.textContent = THEME_ICON[theme];
    button.setAttribute("aria-label", "Colour theme: " + THEME_NAME[theme] + " (switch to " + THEME_NAME[next] + ")");
    button.title = button.getAttribute("aria-label");
  }

  function setupTheme() {
    var button = $("#theme-toggle");
    if (!button) {
      return;
    }
    button.hidden = false;
    showTheme(button);
    button.addEventListener("click", function () {
      var next = THEMES[(THEMES.indexOf(currentTheme()) + 1) % THEMES.length];
      if (next === "auto") {
        document.documentElement.removeAttribute("data-theme");
      } else {
        document.documentElement.setAttribute("data-theme", next);
      }
      try {
        if (next === "auto") {
          window.localStorage.removeItem(THEME_KEY);
        } else {
          window.localStorage.setItem(THEME_KEY, next);
        }
      } catch (e) {
        // Not remembered when storage is off; the switch still applies to this page.
      }
      showTheme(button);
    });
  }

  // -- abstracts ----------------------------------------------------------------------------------

  function setAbstract(box, open) {
    var button = $(".expand", box);
    box.classList.toggle("open", open);
    if (button) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.textContent = open ? "Less" : "More";
    }
  }

  // A "More" button only where the clamp hides something; measured again once fonts and math are in.
  function measureAbstracts() {
    $all(".card .abstract").forEach(function (box) {
      var text = $(".snippet", box);
      var button = $(".expand", box);
      if (!text || !button) {
        return;
      }
      var clipped = box.classList.contains("open") || text.scrollHeight > text.clientHeight + 2;
      button.hidden = !clipped;
    });
    var all = $("#expand-all");
    if (all) {
      all.hidden = $all(".card .abstract .expand:not([hidden])").length === 0;
    }
  }

  function setupAbstracts() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest(".abstract .expand");
      if (button) {
        var box = button.closest(".abstract");
        setAbstract(box, !box.classList.contains("open"));
      }
    });
    var all = $("#expand-all");
    if (all) {
      all.addEventListener("click", function () {
        var open = all.getAttribute("aria-pressed") !== "true";
        $all(".card .abstract").forEach(function (box) {
          setAbstract(box, open);
        });
        all.setAttribute("aria-pressed", open ? "true" : "false");
        all.textContent = open ? "Collapse all" : "Expand all";
      });
    }
    measureAbstracts();
    window.addEventListener("load", measureAbstracts);
    window.addEventListener("resize", measureAbstracts);
  }

  // -- upvotes ------------------------------------------------------------------------------------

  function showVote(form, count, voted) {
    var button = $(".vote-button", form);
    var number = count.toLocaleString("en-US");
    $(".vote-count", form).textContent = number;
    form.classList.toggle("voted", voted);
    form.classList.remove("confirm");
    var hint = $(".vote-confirm", form);
    if (hint) {
      hint.remove();
    }
    var remove = $('input[name="action"]', form);
    if (voted && !remove) {
      remove = document.createElement("input");
      remove.type = "hidden";
      remove.name = "action";
      remove.value = "remove";
      form.appendChild(remove);
    } else if (!voted && remove) {
      remove.remove();
    }
    button.setAttribute("aria-pressed", voted ? "true" : "false");
  }

  function setupVotes() {
    // A vote asked for before logging in: its ▲ waits, focused. Autofocus does not apply to a page opened
    // at a #fragment, which this one is (it scrolls to the card), and the scroll to the fragment takes the
    // focus back: focus once the page has loaded.
    var waiting = $("form.votes.confirm .vote-button");
    if (waiting) {
      var focus = function () {
        waiting.focus({ preventScroll: true });
      };
      focus();
      window.addEventListener("load", function () {
        window.setTimeout(focus, 0);
      });
    }
    var meta = $('meta[name="csrf-token"]');
    if (!meta || !window.fetch) {
      return; // a visitor's ▲ is a link to the login form; without fetch the form posts as it is
    }
    var token = meta.getAttribute("content");
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.classList || !form.classList.contains("votes")) {
        return;
      }
      event.preventDefault();
      var button = $(".vote-button", form);
      if (button.disabled) {
        return;
      }
      button.disabled = true;
      var remove = !!$('input[name="action"][value="remove"]', form);
      fetch("/api" + form.getAttribute("action"), {
        method: remove ? "DELETE" : "POST",
        headers: { "X-CSRF-Token": token, Accept: "application/json" },
        credentials: "same-origin"
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("status " + response.status);
          }
          return response.json();
        })
        .then(function (answer) {
          showVote(form, answer.upvotes, answer.upvoted);
          button.disabled = false;
          button.focus();
        })
        .catch(function () {
          // Let the server answer the plain form (a 429 page, a login form …).
          button.disabled = false;
          HTMLFormElement.prototype.submit.call(form);
        });
    });
  }

  // -- keyboard -----------------------------------------------------------------------------------

  function cards() {
    return $all("main article.card");
  }

  function currentCard() {
    var active = document.activeElement;
    var card = active && active.closest ? active.closest("article.card") : null;
    return card || $("main article.card.current");
  }

  function select(card) {
    $all("main article.card.current").forEach(function (c) {
      c.classList.remove("current");
    });
    card.classList.add("current");
    var link = $(".card-link", card);
    link.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest", behavior: "auto" });
  }

  function move(step) {
    var list = cards();
    if (!list.length) {
      return;
    }
    var at = list.indexOf(currentCard());
    var next = at < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, at + step));
    select(list[next]);
  }

  function upvote() {
    var card = currentCard();
    var target = card ? $(".votes", card) : $(".paper-actions .votes");
    if (!target) {
      return;
    }
    if (target.tagName === "A") {
      window.location.href = target.href;
    } else {
      $(".vote-button", target).click();
    }
  }

  function typing(element) {
    if (!element) {
      return false;
    }
    var tag = element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  function openHelp() {
    var dialog = $("#shortcuts");
    if (dialog && !dialog.open && dialog.showModal) {
      dialog.showModal();
    }
  }

  function setupKeys() {
    var help = $("#shortcuts-button");
    if (help) {
      help.hidden = false;
      help.addEventListener("click", openHelp);
    }
    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
        return;
      }
      var dialog = $("#shortcuts");
      if (dialog && dialog.open) {
        return; // Escape closes it (the browser's own); other keys wait
      }
      var card;
      switch (event.key) {
        case "j":
          move(1);
          break;
        case "k":
          move(-1);
          break;
        case "o":
          card = currentCard();
          if (!card) {
            return;
          }
          window.location.href = $(".card-link", card).href;
          break;
        case "u":
          upvote();
          break;
        case "x":
          card = currentCard();
          if (!card || !$(".abstract", card)) {
            return;
          }
          setAbstract($(".abstract", card), !$(".abstract", card).classList.contains("open"));
          break;
        case "/":
          var search = $("#site-search");
          if (!search) {
            return;
          }
          search.focus();
          search.select();
          break;
        case "?":
          openHelp();
          break;
        default:
          return;
      }
      event.preventDefault();
    });
  }

  function start() {
    setupTheme();
    setupAbstracts();
    setupVotes();
    setupKeys();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
