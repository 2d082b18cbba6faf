// The FLASH alert: a Web Audio beep (no audio file). Browsers start audio only after a user
// gesture; the console unlocks it on the first click or key press (the login is one).

let context = null;
let beeps = 0;

export function unlockAudio() {
  try {
    context = context || new AudioContext();
    if (context.state === "suspended") context.resume();
  } catch {
    context = null; // no audio device: the banner still shows
  }
}

/** Three short tones; counted in document.body.dataset.beeps (the tests read it). */
export function beep() {
  beeps += 1;
  document.body.dataset.beeps = String(beeps);
  if (!context) unlockAudio();
  if (!context) return;
  const start = context.currentTime + 0.01;
  for (let i = 0; i < 3; i += 1) {
    const osc = context.createOscillator();
    const gain = context.createGain();
    osc.type = "square";
    osc.frequency.value = i === 1 ? 1320 : 880;
    gain.gain.setValueAtTime(0.0001, start + i * 0.22);
    gain.gain.exponentialRampToValueAtTime(0.25, start + i * 0.22 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + i * 0.22 + 0.18);
    osc.connect(gain).connect(context.destination);
    osc.start(start + i * 0.22);
    osc.stop(start + i * 0.22 + 0.2);
  }
}
