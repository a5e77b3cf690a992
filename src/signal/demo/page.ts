// The demo page: plain HTML and inline JS, no build step, no external
// network. It loads ion-sdk-js's two browser bundles from the same origin
// (served by handler.ts under /vendor/) and talks JSON-RPC over /ws, exactly
// like an ion-sfu client would.
//
// The inline script is written without template literals and without the
// sequence "</" so that it can live in this TS template string untouched.

/** Placeholder replaced by the WebSocket path (a JSON string literal). */
const WS_PATH_TOKEN = '__SFUD_WS_PATH__';

const TEMPLATE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sfud demo</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1rem; background: #f6f7f9; color: #1d232b; }
  h1 { font-size: 1.25rem; margin: 0 0 .75rem; }
  form { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; margin-bottom: .5rem; }
  label { display: flex; flex-direction: column; font-size: .85rem; gap: .2rem; }
  input { padding: .35rem .5rem; font-size: 1rem; }
  button { padding: .4rem .9rem; font-size: 1rem; cursor: pointer; }
  #status { min-height: 1.2em; font-size: .9rem; margin: .25rem 0 .75rem; }
  #status.error { color: #b00020; }
  #tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: .75rem; }
  figure { margin: 0; background: #222; border: 3px solid transparent; border-radius: 6px; overflow: hidden; }
  figure.speaking { border-color: #2bb24c; }
  video { display: block; width: 100%; aspect-ratio: 4 / 3; background: #000; object-fit: cover; }
  figcaption { color: #eee; font-size: .8rem; padding: .25rem .5rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
</style>
</head>
<body>
<h1>sfud demo</h1>
<form id="join-form" autocomplete="off">
  <label for="room">Room <input id="room" name="room" required></label>
  <label for="uid">Display id <input id="uid" name="uid" required></label>
  <button id="join" type="submit">Join</button>
  <button id="leave" type="button" disabled>Leave</button>
</form>
<p id="status" role="status" aria-live="polite">Not connected.</p>
<section id="tiles" aria-label="Video tiles"></section>
<script src="/vendor/ion-sdk.min.js"></script>
<script src="/vendor/json-rpc.min.js"></script>
<script>
(function () {
  'use strict';
  var WS_PATH = ${WS_PATH_TOKEN};
  var $ = function (id) { return document.getElementById(id); };
  var form = $('join-form'), roomInput = $('room'), uidInput = $('uid');
  var joinBtn = $('join'), leaveBtn = $('leave'), statusEl = $('status'), tiles = $('tiles');
  var params = new URLSearchParams(location.search);
  roomInput.value = params.get('room') || 'demo';
  uidInput.value = params.get('uid') || 'user-' + Math.random().toString(36).slice(2, 8);

  var state = { client: null, signal: null, local: null, remoteStreams: new Map(), speakers: [], joined: false, status: '' };
  window.sfudDemo = state;

  function setStatus(text, isError) {
    state.status = text;
    statusEl.textContent = text;
    statusEl.className = isError ? 'error' : '';
  }
  function errText(e) { return (e && (e.message || e.name)) || String(e); }

  function addTile(stream, label, muted) {
    var fig = document.createElement('figure');
    fig.dataset.streamId = stream.id;
    var video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = muted;
    video.srcObject = stream;
    video.setAttribute('aria-label', label);
    var cap = document.createElement('figcaption');
    cap.textContent = label;
    fig.appendChild(video);
    fig.appendChild(cap);
    fig.classList.toggle('speaking', state.speakers.indexOf(stream.id) >= 0);
    tiles.appendChild(fig);
    var p = video.play();
    if (p && p.catch) p.catch(function () { /* autoplay may need a gesture; Join was one */ });
    return fig;
  }
  function removeTile(id) {
    var figs = tiles.querySelectorAll('figure');
    for (var i = 0; i < figs.length; i++) if (figs[i].dataset.streamId === id) figs[i].remove();
  }
  function highlight(ids) {
    state.speakers = Array.isArray(ids) ? ids.slice() : [];
    var figs = tiles.querySelectorAll('figure');
    for (var i = 0; i < figs.length; i++) {
      figs[i].classList.toggle('speaking', state.speakers.indexOf(figs[i].dataset.streamId) >= 0);
    }
  }

  function onTrack(track, stream) {
    if (state.remoteStreams.has(stream.id)) return;
    state.remoteStreams.set(stream.id, stream);
    addTile(stream, 'Remote ' + stream.id, false);
    stream.onremovetrack = function () {
      if (stream.getTracks().length === 0) {
        state.remoteStreams.delete(stream.id);
        removeTile(stream.id);
      }
    };
  }

  function reset() {
    state.client = null; state.signal = null; state.local = null; state.joined = false;
    state.remoteStreams.clear();
    state.speakers = [];
    tiles.textContent = '';
    joinBtn.disabled = false; leaveBtn.disabled = true;
    roomInput.disabled = false; uidInput.disabled = false;
  }

  function leave(message, isError) {
    var client = state.client, local = state.local;
    if (local) local.getTracks().forEach(function (t) { t.stop(); });
    if (client) { try { client.close(); } catch (e) { /* already closed */ } }
    reset();
    setStatus(message || 'Left the room.', isError);
  }

  function join(room, uid) {
    if (typeof IonSDK === 'undefined' || typeof Signal === 'undefined') {
      setStatus('Error: ion-sdk-js browser bundles failed to load.', true);
      return;
    }
    joinBtn.disabled = true; roomInput.disabled = true; uidInput.disabled = true;
    setStatus('Connecting...');
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + WS_PATH;
    var signal = new Signal.IonSFUJSONRPCSignal(url);
    var client = new IonSDK.Client(signal, { codec: 'vp8', iceServers: [] });
    state.client = client; state.signal = signal;
    client.ontrack = onTrack;
    client.onspeaker = highlight;
    client.onerrnegotiate = function (role, err) { setStatus('Negotiation error (' + role + '): ' + errText(err), true); };
    signal.onerror = function () { if (state.client === client) setStatus('Error: signalling connection failed.', true); };
    signal.onclose = function () { if (state.client === client) leave('Error: signalling connection closed.', true); };
    signal.onopen = function () {
      leaveBtn.disabled = false;
      setStatus('Joining room "' + room + '"...');
      client.join(room, uid).then(function () {
        if (state.client !== client) return null;
        setStatus('Joined room "' + room + '" as "' + uid + '"; starting camera...');
        return IonSDK.LocalStream.getUserMedia({ resolution: 'vga', audio: true, video: true, codec: 'vp8', simulcast: false });
      }).then(function (local) {
        if (!local) return;
        if (state.client !== client) { local.getTracks().forEach(function (t) { t.stop(); }); return; }
        state.local = local;
        addTile(local, 'You (' + uid + ')', true);
        client.publish(local);
        state.joined = true;
        setStatus('Joined room "' + room + '" as "' + uid + '", publishing.');
      }).catch(function (e) {
        if (state.client === client) setStatus('Error: ' + errText(e), true);
      });
    };
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var room = roomInput.value.trim(), uid = uidInput.value.trim();
    if (!room || !uid || state.client) return;
    join(room, uid);
  });
  leaveBtn.addEventListener('click', function () { leave(); });
  window.addEventListener('pagehide', function () { if (state.client) leave(); });
})();
</script>
</body>
</html>
`;

/** Renders the demo page with the given WebSocket path (default `/ws`). */
export function renderDemoPage(wsPath = '/ws'): string {
  // JSON literal, with '<' escaped so no value can close the <script> element.
  const literal = JSON.stringify(wsPath).replace(/</g, '\\u003c');
  return TEMPLATE.replace(WS_PATH_TOKEN, () => literal);
}

/** The demo page as served by default (signalling on `/ws`). */
export const DEMO_PAGE_HTML: string = renderDemoPage();
