""""You may also like": learned product neighbours, updated incrementally as events arrive.

Learning (`learn`, in the writer transaction, after `visitor_items` took the event). When a visitor
views, carts, favourites or buys product J, each of their WINDOW most recent other products I
(by `last_at`) is paired with J, and both directed neighbour scores grow:

    I -> J  by  w = signal(J) / gap / (1 + seconds_between / TIME_SCALE)
    J -> I  by  BACKWARD * w

`gap` is I's position in the visitor's recent items (1 = the product just before J), so products
viewed, carted and bought in sequence and together count most; `signal` weighs the event:
view 1, favourite 2, add to cart 3, purchase 4 (the data we measured on has only views, so these
four are a judgement call: stronger intent, stronger evidence, with no single cart or purchase
worth more than a handful of views). A repeated view of a product the visitor already viewed
teaches nothing new and is skipped (on the yoochoose sample that is worth +0.005 HR@8: re-views
mostly re-pair the same products). Each event also adds its signal weight to the product's
popularity (the last fallback).

Bounded: each product keeps at most PRUNE_AT neighbours; when an insertion passes that, the list
is cut back to its best KEEP (amortised: one cut per PRUNE_AT - KEEP new neighbours). The lists
live in memory (`Model`, checkpointed to `rec_neighbours`): an event costs one read of the
visitor's few most recent rows and a few dict updates, whatever the number of events stored.

Serving (`similar_products`): the visitor's HISTORY most recent products vote for their
neighbours (at most HISTORY x PRUNE_AT, from memory), each neighbour's score normalised by its
source's total (a product with many neighbours does not drown one with few) and weighted by
recency position 1/(p+1)^2 (the last product counts most) and by the strongest signal the visitor
gave that product. The best candidates' details come from the product cache (server/cartback/products.py;
only `products.recommendable` ones are offered); one query reads the fills, only when the neighbours run short.
The second signal, category: a candidate in
the categories of the visitor's recent products counts up to CATEGORY_BOOST more, and the most
popular products of those categories fill in after the neighbours. The shop's most popular products
come only for a visitor none of whose recent products has a usable neighbour or a category. Never
random filler: a short list stays short.

Measured offline with bench/evaluate.py (the same code path, on real click logs); the parameters
(model.py: learning, similar.py: serving) are the ones that measured best on the yoochoose sample,
and the figures are flat around them.
"""

from __future__ import annotations

from .model import (
    BACKWARD,
    KEEP,
    PRUNE_AT,
    RECENT,
    SIGNAL_WEIGHTS,
    WINDOW,
    Model,
    _best,
    frozen,
    learn,
    model_of,
    touch,
)
from .similar import CATEGORIES, CATEGORY_BOOST, HISTORY, similar, similar_products

__all__ = ["BACKWARD", "CATEGORIES", "CATEGORY_BOOST", "HISTORY", "KEEP", "PRUNE_AT", "RECENT", "SIGNAL_WEIGHTS",
           "WINDOW", "Model", "_best", "frozen", "learn", "model_of", "similar", "similar_products", "touch"]
