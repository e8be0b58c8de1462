-- 2019 migration: order lines point at the new Trinity product table.
ALTER TABLE shop.order_lines
    ADD CONSTRAINT order_lines_product_fk
    FOREIGN KEY (product_id) REFERENCES inventory.tb_product (pk_product);

COMMENT ON COLUMN shop.orders.cancel_reason IS 'Why the customer or the shop cancelled';
