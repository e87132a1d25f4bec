/* The console map (see templates/console/map/_map.html). Draws the offline Natural Earth outlines, then the
   stations, their service radius, the open requests coloured like the board, the technicians and, on a request
   page, its ranked candidates; polls the data URL so the map stays as current as the board. Every marker is an
   HTML element with a class and data-kind / data-id, so it can be clicked, read by a screen reader and tested. */
(function () {
  "use strict";

  // On a request's page the map frames the request and its best few candidates, each joined to the site by a line;
  // the others are still marked with their rank.
  var NEAREST_CANDIDATES = 3;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Tooltip and popup content from the server's (already translated) lines, as text: nothing is parsed as HTML.
  function linesNode(lines) {
    var box = el("div", "map-popup");
    lines.forEach(function (line, i) { box.appendChild(el(i === 0 ? "strong" : "div", null, line)); });
    return box;
  }

  function markerIcon(kind, id, className, content, extra) {
    var node = el("div", "map-marker map-marker--" + kind + (className ? " " + className : ""));
    node.setAttribute("data-kind", kind);
    node.setAttribute("data-id", String(id));
    Object.keys(extra || {}).forEach(function (k) { node.setAttribute("data-" + k, extra[k]); });
    if (content) node.appendChild(content);
    return node;
  }

  function initials(name) {
    var words = name.trim().split(/\s+/);
    return words.length > 1 ? (words[0][0] + words[words.length - 1][0]).toUpperCase() : name.slice(0, 2);
  }

  function OnsiteMap(figure) {
    this.figure = figure;
    this.labels = figure.dataset;
    this.status = figure.querySelector(".onsite-map__status");
    this.map = L.map(figure.querySelector(".onsite-map__canvas"), {
      preferCanvas: false, renderer: L.svg({ padding: 0.5 }), zoomSnap: 0.5, minZoom: 2, maxZoom: 16,
      worldCopyJump: true, attributionControl: true
    });
    this.map.attributionControl.setPrefix("Leaflet · Natural Earth");
    this.map.setView([34, 108], 4);  // China, until the data says where to look
    this.map.createPane("outlines").style.zIndex = 250;
    this.map.createPane("radius").style.zIndex = 350;
    this.layers = {
      stations: L.layerGroup(), radius: L.layerGroup(), requests: L.layerGroup(),
      technicians: L.layerGroup(), candidates: L.layerGroup()
    };
    this.provinces = L.layerGroup();
    var control = L.control.layers(null, null, { collapsed: true, position: "topright" });
    this.control = control;
    var self = this;
    [["radius", "labelRadius"], ["stations", "labelStations"], ["requests", "labelRequests"],
     ["technicians", "labelTechnicians"], ["candidates", "labelCandidates"]].forEach(function (pair) {
      self.layers[pair[0]].addTo(self.map);
      control.addOverlay(self.layers[pair[0]], self.labels[pair[1]]);
    });
    control.addOverlay(this.provinces.addTo(this.map), this.labels.labelProvinces);
    control.addTo(this.map);
    L.control.scale({ imperial: false }).addTo(this.map);
    this.fitted = false;
    var canvas = this.map.getContainer();
    // Names would crowd a whole-country view: station names from a region's zoom, technicians' from a city's.
    this.map.on("zoomend", function () {
      canvas.classList.toggle("map-regional", self.map.getZoom() >= 6);
      canvas.classList.toggle("map-detailed", self.map.getZoom() >= 8);
    });
    this.loadOutlines();
    this.refresh();
    var seconds = parseInt(figure.dataset.mapRefreshSeconds, 10);
    if (seconds > 0) window.setInterval(function () { self.refresh(); }, seconds * 1000);
  }

  OnsiteMap.prototype.loadOutlines = function () {
    var map = this.map, provinces = this.provinces;
    function draw(url, style, group) {
      return fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
        var layer = L.geoJSON(data, { pane: "outlines", interactive: false, style: style });
        (group || layer).addTo(map);
        if (group) group.addLayer(layer);
      });
    }
    draw(this.figure.dataset.mapCountriesUrl, { className: "map-country", weight: 0.8 }).then(function () {
      return draw(this.figure.dataset.mapProvincesUrl, { className: "map-province", weight: 0.6, fill: false },
                  provinces);
    }.bind(this)).catch(function () { /* the markers still make sense without the outlines */ });
  };

  OnsiteMap.prototype.refresh = function () {
    var self = this;
    fetch(this.figure.dataset.mapDataUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.redirected || !r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then(function (data) { self.status.textContent = ""; self.draw(data); })
      .catch(function () { self.status.textContent = self.labels.labelFailed; });
  };

  OnsiteMap.prototype.draw = function (data) {
    var self = this, L_ = this.layers, bounds = [];
    // A refresh redraws every marker; details the dispatcher has open stay open.
    var openKey = this.map.getContainer().querySelector(".leaflet-popup") ? this.openKey : null;
    var reopen = null;
    Object.keys(L_).forEach(function (k) { L_[k].clearLayers(); });

    // A marker whose element is `icon`, with the server's lines as its popup (or tooltip), on `layer`.
    // Stacking (zIndexOffset), bottom to top: technicians, stations, requests (what the dispatcher acts on), ranks.
    function place(layer, key, latlng, icon, options, lines, asTooltip) {
      var marker = L.marker(latlng, L.extend({
        icon: L.divIcon({ html: icon, className: "map-icon", iconSize: null }), riseOnHover: true
      }, options));
      if (asTooltip) {
        marker.bindTooltip(linesNode(lines), { direction: "top", offset: [0, -8] });
      } else {
        marker.bindPopup(linesNode(lines));
        marker.on("popupopen", function () { self.openKey = key; });
        marker.on("popupclose", function () { if (self.openKey === key) self.openKey = null; });
        if (key === openKey) reopen = marker;
      }
      return marker.addTo(layer);
    }

    if (data.tiles && !this.tiles) {
      this.tiles = L.tileLayer(data.tiles.url, { attribution: data.tiles.attribution, pane: "outlines" });
      this.tiles.addTo(this.map);
      this.control.addBaseLayer(this.tiles, this.labels.labelTiles);
    }

    data.stations.forEach(function (s) {
      L.circle([s.lat, s.lon], { radius: data.radius_km * 1000, pane: "radius", interactive: false,
                                 className: "map-radius" + (s.receives_work ? "" : " map-radius--barred") })
        .addTo(L_.radius);
      var icon = markerIcon("station", s.id, s.receives_work ? "" : "map-marker--barred",
                            el("span", "map-marker__badge", s.code), { code: s.code });
      icon.appendChild(el("span", "map-marker__label", s.name));
      place(L_.stations, "station:" + s.id, [s.lat, s.lon], icon,
            { title: s.lines.join(" — "), alt: s.name, zIndexOffset: 400 }, s.lines);
      bounds.push([s.lat, s.lon]);
    });

    var focusId = data.focus ? data.focus.id : null;
    var requests = data.requests.slice();
    if (data.focus && !requests.some(function (r) { return r.id === focusId; })) requests.push(data.focus);
    requests.forEach(function (r) {
      // A real link: a click, a middle click or Enter opens the request page.
      var link = el("a", "map-marker__dot");
      link.href = r.url;
      link.setAttribute("aria-label", r.lines.join(", "));
      var classes = "map-urgency--" + r.urgency + (r.id === focusId ? " map-marker--focus" : "");
      var icon = markerIcon("request", r.id, classes, link, { urgency: r.urgency, number: r.number });
      place(L_.requests, "request:" + r.id, [r.lat, r.lon], icon,
            { keyboard: false, zIndexOffset: r.id === focusId ? 1000 : 600 }, r.lines, true);
      bounds.push([r.lat, r.lon]);
    });

    data.technicians.forEach(function (t) {
      var classes = (t.stale ? "map-marker--stale" : "") + (t.on_shift ? "" : " map-marker--off-shift");
      var icon = markerIcon("technician", t.id, classes, el("span", "map-marker__badge", initials(t.name)),
                            { stale: String(t.stale), name: t.name });
      icon.appendChild(el("span", "map-marker__label", t.name));
      place(L_.technicians, "technician:" + t.id, [t.lat, t.lon], icon,
            { title: t.lines.join(" — "), alt: t.name, zIndexOffset: 300 }, t.lines);
      bounds.push([t.lat, t.lon]);
    });

    if (data.focus) {
      data.candidates.forEach(function (c) {
        var late = c.can_meet_deadline === false;
        if (c.rank <= NEAREST_CANDIDATES) {
          L.polyline([[c.lat, c.lon], [data.focus.lat, data.focus.lon]],
                     { className: "map-candidate-line" + (late ? " map-candidate-line--late" : ""),
                       interactive: false })
            .addTo(L_.candidates);
        }
        var icon = markerIcon("candidate", c.technician_id, late ? "map-marker--late" : "",
                              el("span", "map-marker__badge", c.label), { rank: String(c.rank) });
        place(L_.candidates, "candidate:" + c.technician_id, [c.lat, c.lon], icon,
              { title: c.lines.join(" — "), zIndexOffset: 800 - c.rank }, c.lines);
      });
    }

    if (!this.fitted) {  // only the first time: a refresh must not move the map the dispatcher is looking at
      this.fitted = true;
      if (data.focus) {
        var around = [[data.focus.lat, data.focus.lon]].concat(data.candidates.filter(function (c) {
          return c.rank <= NEAREST_CANDIDATES;
        }).map(function (c) { return [c.lat, c.lon]; }));
        this.map.fitBounds(L.latLngBounds(around).pad(0.4), { maxZoom: 10 });
      } else if (bounds.length) {
        this.map.fitBounds(L.latLngBounds(bounds).pad(0.1), { maxZoom: 9 });
      }
    }
    if (reopen) reopen.openPopup();
    this.figure.setAttribute("data-map-ready", "true");
  };

  function start() {
    if (typeof L === "undefined") return;
    Array.prototype.forEach.call(document.querySelectorAll(".onsite-map:not([data-map-started])"), function (figure) {
      figure.setAttribute("data-map-started", "true");
      // Kept on the element, announced by an event, so a page's own script can add to the map (intake's point
      // picker: static/intake/intake-map.js) without a second copy of it.
      figure.onsiteMap = new OnsiteMap(figure);
      figure.dispatchEvent(new CustomEvent("onsite-map:created", { bubbles: true, detail: figure.onsiteMap }));
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
