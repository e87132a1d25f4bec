/* Intake's "pick a point" mode of the console map (static/map/map.js, which draws the stations, their service radius
   and the open requests): a click on the map, or dragging the site marker, fills the latitude and longitude fields;
   typed coordinates move the marker. The fields stay the form's truth, so the page works the same without it. */
(function () {
  "use strict";

  var DECIMALS = 6;  // about 0.1 m: more than the site needs, less than noise

  function attach(picker, onsiteMap) {
    var map = onsiteMap.map;
    var latitude = document.getElementById(picker.dataset.latitudeInput);
    var longitude = document.getElementById(picker.dataset.longitudeInput);
    var figure = picker.querySelector(".onsite-map");
    figure.classList.add("onsite-map--picking");
    var marker = null;

    function typed() {
      var lat = parseFloat(latitude.value), lon = parseFloat(longitude.value);
      return isFinite(lat) && isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? L.latLng(lat, lon) : null;
    }

    function place(point) {
      if (!point) {
        if (marker) { map.removeLayer(marker); marker = null; }
        figure.removeAttribute("data-site");
        return;
      }
      if (!marker) {
        var icon = document.createElement("div");
        icon.className = "map-marker map-marker--site";
        icon.setAttribute("data-kind", "site");
        var pin = document.createElement("span");
        pin.className = "map-marker__pin";
        icon.appendChild(pin);
        var label = document.createElement("span");
        label.className = "map-marker__label";
        label.textContent = picker.dataset.labelSite;
        icon.appendChild(label);
        marker = L.marker(point, { icon: L.divIcon({ html: icon, className: "map-icon", iconSize: null }),
                                   draggable: true, keyboard: false, zIndexOffset: 2000, title: picker.dataset.labelSite })
          .addTo(map);
        marker.on("dragend", function () { fill(marker.getLatLng()); });
      } else {
        marker.setLatLng(point);
      }
      figure.setAttribute("data-site", point.lat.toFixed(DECIMALS) + "," + point.lng.toFixed(DECIMALS));
    }

    function fill(point) {
      point = point.wrap();
      latitude.value = point.lat.toFixed(DECIMALS);
      longitude.value = point.lng.toFixed(DECIMALS);
      [latitude, longitude].forEach(function (input) {
        input.dispatchEvent(new Event("change", { bubbles: true }));
      });
    }

    map.on("click", function (event) { fill(event.latlng); });
    [latitude, longitude].forEach(function (input) {
      input.addEventListener("change", function () {
        var point = typed();
        place(point);
        if (point && !map.getBounds().contains(point)) map.panTo(point);
      });
    });

    // Open requests nearby are worth seeing while placing a new one, but following their link would leave the
    // unsaved form: in this mode they open in a new tab.
    figure.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a.map-marker__dot");
      if (link) { link.target = "_blank"; link.rel = "noopener"; }
    }, true);

    var start = typed();
    if (start) {
      place(start);
      map.setView(start, Math.max(map.getZoom(), 8));
    }
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll(".site-picker"), function (picker) {
      var figure = picker.querySelector(".onsite-map");
      if (!figure) return;
      if (figure.onsiteMap) attach(picker, figure.onsiteMap);
      else figure.addEventListener("onsite-map:created", function (event) { attach(picker, event.detail); });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
