/* A block on the page: its viewable impression and clicks on its cards. */

import { quiet } from './page.js';
import { beacon, track } from './transport.js';

export const watchBlock = block => {
  // Viewable: half of the block on screen, or, for a block too tall for that (a phone, two cards a
  // row), half of the screen filled by it: no fixed ratio, so the observer reports at .2 and .3 too
  // (a block of 2 to 5 screens fills half of one by then).
  const id = block.dataset.cartbackBlock,
    observer = new IntersectionObserver(quiet(entries => entries.some(e =>
      e.intersectionRatio >= .5 || e.intersectionRect.height > innerHeight / 2) &&
      (observer.disconnect(), track({ type: 'impression', block: id }))), { threshold: [.2, .3, .5] });
  observer.observe(block);
  block.addEventListener('click', quiet(e => {
    const card = e.target.closest('[data-cartback-product]'), section = card && card.closest('[data-section]');
    // The click usually navigates: only a beacon is sure to arrive.
    card && beacon(track({ type: 'click', block: id, id: card.dataset.cartbackProduct,
      section: section && section.dataset.section }));
  }));
};
