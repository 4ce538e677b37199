// A message toast (templates/_toasts.html) goes when its × is clicked.
document.addEventListener("click", (event) => {
  if (event.target.matches("[data-dismiss]")) { event.target.closest(".toast").remove(); }
});
