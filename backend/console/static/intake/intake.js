/* Intake's customer and unit pickers: search as you type. Each picker is a plain <select> the server fills (so the
   form works without this file); here it becomes a combobox whose results come from the picker's data-search-url.
   The select stays the form's field: a choice becomes its one selected option. No inline script (the CSP forbids it). */
(function () {
  "use strict";

  var DELAY_MS = 200;
  var form = document.querySelector("form.intake");
  if (!form) return;
  var labels = form.dataset;
  var pickers = {};

  function Picker(select) {
    this.select = select;
    this.kind = select.dataset.picker;
    this.results = [];
    this.active = -1;
    this.timer = null;
    this.serial = 0;
    var id = select.id;
    var input = document.createElement("input");
    input.type = "text";
    input.id = id + "-search";
    input.className = "picker-input";
    input.autocomplete = "off";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", id + "-results");
    ["aria-describedby", "aria-invalid", "required"].forEach(function (name) {
      if (select.hasAttribute(name)) input.setAttribute(name, select.getAttribute(name));
    });
    var list = document.createElement("ul");
    list.id = id + "-results";
    list.className = "picker-results";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    var status = document.createElement("p");
    status.className = "picker-status hint";
    status.setAttribute("aria-live", "polite");
    var wrap = document.createElement("div");
    wrap.className = "picker";
    wrap.appendChild(input);
    wrap.appendChild(list);
    wrap.appendChild(status);
    select.parentNode.insertBefore(wrap, select);
    select.hidden = true;
    select.tabIndex = -1;
    select.removeAttribute("required");  // the combobox carries it, where the person can see it
    var label = form.querySelector('label[for="' + id + '"]');
    if (label) label.htmlFor = input.id;
    this.input = input;
    this.list = list;
    this.status = status;
    var chosen = select.options[select.selectedIndex];
    input.value = chosen && chosen.value ? chosen.textContent.trim() : "";
    this.chosenText = input.value;

    var self = this;
    input.addEventListener("input", function () { self.schedule(); });
    input.addEventListener("focus", function () { if (!input.value || self.kind === "unit") self.schedule(); });
    input.addEventListener("keydown", function (event) { self.key(event); });
    input.addEventListener("blur", function () {
      window.setTimeout(function () {
        self.close();
        // Text that was typed but not chosen must not look like a choice.
        if (input.value !== self.chosenText) {
          if (!input.value.trim()) self.choose(null); else input.value = self.chosenText;
        }
      }, 150);
    });
    list.addEventListener("mousedown", function (event) { event.preventDefault(); });  // keep the focus
    list.addEventListener("click", function (event) {
      var item = event.target.closest("[role=option]");
      if (item) self.choose(self.results[parseInt(item.dataset.index, 10)]);
    });
  }

  Picker.prototype.value = function () { return this.select.value; };

  Picker.prototype.schedule = function () {
    var self = this;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(function () { self.search(); }, DELAY_MS);
  };

  Picker.prototype.search = function () {
    var self = this, serial = ++this.serial;
    var params = new URLSearchParams({ q: this.input.value === this.chosenText ? "" : this.input.value.trim() });
    if (this.kind === "unit" && pickers.customer && pickers.customer.value()) {
      params.set("customer_id", pickers.customer.value());
    }
    this.status.textContent = labels.labelSearching;
    fetch(this.select.dataset.searchUrl + "?" + params.toString(),
          { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (r.redirected || !r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (data) {
        if (serial !== self.serial) return;  // an answer to an older keystroke
        self.show(data.results);
      })
      .catch(function () { if (serial === self.serial) self.status.textContent = labels.labelFailed; });
  };

  Picker.prototype.show = function (results) {
    var self = this;
    this.results = results;
    this.active = -1;
    this.list.textContent = "";
    results.forEach(function (result, index) {
      var item = document.createElement("li");
      item.id = self.list.id + "-" + index;
      item.setAttribute("role", "option");
      item.dataset.index = String(index);
      item.dataset.id = String(result.id);
      item.textContent = result.label;
      if (self.kind === "unit" && result.customer_name && !(pickers.customer && pickers.customer.value())) {
        var owner = document.createElement("span");
        owner.className = "picker-owner";
        owner.textContent = result.customer_name;
        item.appendChild(owner);
      }
      self.list.appendChild(item);
    });
    this.status.textContent = results.length ? "" : labels.labelNoResults;
    this.list.hidden = !results.length;
    this.input.setAttribute("aria-expanded", results.length ? "true" : "false");
  };

  Picker.prototype.close = function () {
    this.list.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
    this.status.textContent = "";
  };

  Picker.prototype.move = function (step) {
    if (!this.results.length) return;
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    var items = this.list.children;
    if (this.active >= 0) items[this.active].removeAttribute("aria-selected");
    this.active = (this.active + step + items.length) % items.length;
    items[this.active].setAttribute("aria-selected", "true");
    items[this.active].scrollIntoView({ block: "nearest" });
    this.input.setAttribute("aria-activedescendant", items[this.active].id);
  };

  Picker.prototype.key = function (event) {
    if (event.key === "ArrowDown") { event.preventDefault(); if (this.list.hidden && !this.results.length) this.search(); else this.move(1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); this.move(-1); }
    else if (event.key === "Enter" && !this.list.hidden && this.results.length) {
      event.preventDefault();  // choosing, not submitting the form
      this.choose(this.results[this.active >= 0 ? this.active : 0]);
    } else if (event.key === "Escape") { this.close(); }
  };

  // result: {id, label, ...} from the search, or null to clear the choice.
  Picker.prototype.choose = function (result) {
    var select = this.select;
    select.textContent = "";
    var option = document.createElement("option");
    option.value = result ? String(result.id) : "";
    option.textContent = result ? result.label : "";
    option.selected = true;
    Object.keys(result || {}).forEach(function (key) {
      if (key !== "id" && key !== "label") option.dataset[key.replace(/_([a-z])/g, function (m, c) { return c.toUpperCase(); })] = String(result[key]);
    });
    select.appendChild(option);
    this.input.value = this.chosenText = result ? result.label : "";
    this.close();
    this.results = [];
    select.dispatchEvent(new Event("change", { bubbles: true }));
  };

  Array.prototype.forEach.call(form.querySelectorAll("select[data-picker]"), function (select) {
    pickers[select.dataset.picker] = new Picker(select);
  });

  var customer = pickers.customer, unit = pickers.unit;
  if (customer && unit) {
    customer.select.addEventListener("change", function () {
      var chosen = customer.select.options[customer.select.selectedIndex];
      // A unit of another customer no longer fits.
      var unitOption = unit.select.options[unit.select.selectedIndex];
      if (unitOption && unitOption.value && unitOption.dataset.customerId && unitOption.dataset.customerId !== customer.value()) {
        unit.choose(null);
      }
      // The customer's own address is the likeliest site; an address already typed is kept.
      var address = document.getElementById("intake-site_address");
      if (address && !address.value && chosen && chosen.dataset.address) address.value = chosen.dataset.address;
    });
    unit.select.addEventListener("change", function () {
      var chosen = unit.select.options[unit.select.selectedIndex];
      // Found by its serial plate before the customer was chosen: the unit names its owner.
      if (chosen && chosen.value && chosen.dataset.customerId && chosen.dataset.customerId !== customer.value()) {
        customer.choose({ id: chosen.dataset.customerId, label: chosen.dataset.customerLabel,
                          address: chosen.dataset.customerAddress });
      }
    });
  }
})();
