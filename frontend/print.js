// The consent record's Print button (inline handlers are forbidden by the CSP).
document.getElementById("print")?.addEventListener("click", () => window.print());
