// Players: MP4/WebM/audio natively, HLS with hls.js, DASH with shaka-player (both served from node_modules).

let shakaLoaded = null;
function loadShaka() {
  shakaLoaded ??= new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = 'vendor/shaka-player.js';
    s.onload = () => resolve(window.shaka);
    s.onerror = () => reject(new Error('shaka-player did not load'));
    document.head.append(s);
  });
  return shakaLoaded;
}

/**
 * A <video>/<audio> playing `url` (a signed URL: no key needed). On a fatal player error the
 * element gets data-player-error and `onError(message)` is called.
 */
export function player(url, { name, audioOnly = false, onError = () => {} }) {
  const media = document.createElement(audioOnly ? 'audio' : 'video');
  media.controls = true;
  media.preload = 'metadata';
  media.dataset.output = name;
  const fail = (message) => {
    media.dataset.playerError = message;
    onError(message);
  };
  const path = new URL(url, location.href).pathname;
  if (path.endsWith('.m3u8')) {
    media.dataset.player = 'hls.js';
    import('./vendor/hls.mjs').then(({ default: Hls }) => {
      if (!Hls.isSupported()) {
        if (media.canPlayType('application/vnd.apple.mpegurl')) media.src = url;
        else fail('this browser supports neither Media Source Extensions nor HLS');
        return;
      }
      const hls = new Hls();
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) fail(`hls.js: ${data.type} ${data.details}`);
      });
      hls.loadSource(url);
      hls.attachMedia(media);
      media.hls = hls;
    }, (err) => fail(String(err)));
  } else if (path.endsWith('.mpd')) {
    media.dataset.player = 'shaka-player';
    loadShaka()
      .then(async (shaka) => {
        shaka.polyfill.installAll();
        const p = new shaka.Player();
        p.addEventListener('error', (e) => fail(`shaka-player: error ${e.detail?.code}`));
        await p.attach(media);
        await p.load(url);
        media.shaka = p;
      })
      .catch((err) => fail(`shaka-player: ${err.code ? `error ${err.code}` : err.message}`));
  } else {
    media.dataset.player = 'native';
    media.addEventListener('error', () => fail(`the browser cannot play this file (media error ${media.error?.code})`));
    media.src = url;
  }
  return media;
}
