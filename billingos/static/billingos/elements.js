// Real Stripe only: collect a card with Stripe Elements and confirm the SetupIntent, then go back to the
// portal's return URL with ?setup_intent=... (what the emulator's stand-in page does too).
(function () {
  var form = document.getElementById("bos-card-form");
  if (!form || !window.Stripe) { return; }
  var stripe = window.Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card");
  card.mount("#bos-card-element");
  var error = document.getElementById("bos-card-error");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    stripe.confirmCardSetup(form.dataset.clientSecret, { payment_method: { card: card } }).then(function (result) {
      if (result.error) {
        error.textContent = result.error.message;
        error.hidden = false;
        return;
      }
      var url = form.dataset.returnUrl;
      window.location.assign(url + (url.indexOf("?") < 0 ? "?" : "&") + "setup_intent=" +
        encodeURIComponent(result.setupIntent.id));
    });
  });
})();
