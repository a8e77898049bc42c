// Live preview and length of a message text while the manager edits it (longest case).
(function () {
  "use strict";
  var aliases = { "称呼": "greeting", "员工": "staff", "门店": "store", "日期": "date", "礼品": "gift" };
  document.querySelectorAll("form.template-form").forEach(function (form) {
    var area = form.querySelector("textarea");
    var preview = form.querySelector(".preview");
    var length = form.querySelector("[data-length]");
    var limit = parseInt(form.dataset.limit, 10);
    function update() {
      var text = area.value.trim().replace(/\{([^{}]*)\}/g, function (all, name) {
        var key = aliases[name] || name;
        return form.dataset[key] !== undefined ? form.dataset[key] : all;
      });
      preview.textContent = text;
      length.textContent = Array.from(text).length;
      length.classList.toggle("red", Array.from(text).length > limit);
    }
    area.addEventListener("input", update);
  });
})();
