// Polls an import job's status and moves its progress bar; reloads the page when it ends.
(function () {
  const box = document.getElementById("job");
  if (!box || box.dataset.finished === "1") return;
  const bar = document.getElementById("job-progress");
  const percent = document.getElementById("job-percent");
  const status = document.getElementById("job-status");
  const stage = document.getElementById("job-stage");
  async function poll() {
    try {
      const response = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const job = await response.json();
        bar.value = job.percent;
        percent.textContent = job.percent + "%";
        status.textContent = job.status_label;
        status.className = "status " + job.status;
        stage.textContent = job.total ? job.stage + " " + job.done + " / " + job.total : job.stage;
        if (job.finished) { window.location.reload(); return; }
      }
    } catch (error) { /* network hiccup: try again */ }
    window.setTimeout(poll, 700);
  }
  window.setTimeout(poll, 300);
})();
