// Filters the long list of catalogue skills as one types; the chosen ones always stay visible.
(function () {
  const input = document.getElementById("skill-filter");
  const select = document.querySelector("select.skill-select");
  if (!input || !select) return;
  input.hidden = false;
  const label = document.getElementById("skill-filter-label");
  if (label) label.hidden = false;
  const fold = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  input.addEventListener("input", function () {
    const wanted = fold(input.value.trim());
    for (const option of select.options) {
      option.hidden = wanted !== "" && !option.selected && !fold(option.text).includes(wanted);
    }
  });
})();
