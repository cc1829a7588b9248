//! Stock analysis for the dashboard's stock pages: ABC by revenue, XYZ by demand variability,
//! slow movers and dead stock, turnover days, over-stock.
