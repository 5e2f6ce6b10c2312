// For-you's script (loaded on signed-in pages that need it; everything works without it):
// - on a paper's page: records that the member opened it (POST /api/papers/{id}/seen {"via": "opened"}),
//   so it does not come back in For-you or the next digest; a GET never changes anything, so the page
//   asks once it is shown;
// - on /for-you: sends the "more / less like this" forms through the API (X-CSRF-Token from
//   <meta name="csrf-token">) and takes a "less" card off the list at once.
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!meta || !window.fetch) {
    return;
  }
  var token = meta.getAttribute("content");

  function post(url, method, body) {
    return fetch(url, {
      method: method,
      headers: { "X-CSRF-Token": token, Accept: "application/json", "Content-Type": "application/json" },
      credentials: "same-origin",
      keepalive: true,
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("status " + response.status);
      }
      return response.json();
    });
  }

  function opened() {
    var paper = document.querySelector("main article.paper[id^='paper-']");
    if (!paper) {
      return;
    }
    var id = paper.id.slice("paper-".length);
    post("/api/papers/" + id + "/seen", "POST", { via: "opened" }).catch(function () {});
  }

  function show(box, signal) {
    box.querySelectorAll("form.feedback-form").forEach(function (form) {
      var mine = form.getAttribute("data-signal");
      var on = mine === signal;
      form.querySelector('input[name="signal"]').value = on ? "remove" : mine;
      form.querySelector("button").setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  function feedback() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.classList || !form.classList.contains("feedback-form")) {
        return;
      }
      event.preventDefault();
      var box = form.closest(".feedback");
      var id = box.getAttribute("data-paper-id");
      var value = form.querySelector('input[name="signal"]').value;
      var request = value === "remove"
        ? post("/api/papers/" + id + "/feedback", "DELETE")
        : post("/api/papers/" + id + "/feedback", "POST", { signal: value });
      request
        .then(function (answer) {
          if (answer.signal === "less") {
            var item = box.closest("li") || box.closest("article");
            var next = item.nextElementSibling || item.previousElementSibling;
            item.remove();
            var status = document.getElementById("for-you-status");
            if (status) {
              status.textContent = "Removed: you will see less like it.";
            }
            if (next) {
              var link = next.querySelector(".card-link");
              if (link) {
                link.focus();
              }
            }
          } else {
            show(box, answer.signal);
          }
        })
        .catch(function () {
          HTMLFormElement.prototype.submit.call(form); // let the server answer the plain form
        });
    });
  }

  function start() {
    opened();
    if (document.getElementById("for-you-list")) {
      feedback();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
