"""Cases: the record (case, timeline, contact), its reference numbers, who may see it, and the
use-cases that change it. Lifecycle events (:mod:`kontaktcenter.cases.events`) let higher areas
react in the same transaction without this area knowing them."""
