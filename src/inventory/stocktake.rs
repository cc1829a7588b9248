//! Stocktakes (盘点): full or cycle counts, counted by scanning, variance, approval.
