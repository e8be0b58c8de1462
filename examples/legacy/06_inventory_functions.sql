-- Stock keeping (nightly import from the supplier feed).
CREATE OR REPLACE FUNCTION inventory.upsert_product(
    p_sku text,
    p_name text,
    p_price numeric,
    p_stock integer
) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid;
BEGIN
    IF p_price < 0 THEN
        RAISE EXCEPTION 'price of % cannot be negative', p_sku;
    END IF;

    INSERT INTO inventory.tb_product (identifier, sku, name, price, stock)
    VALUES (p_sku, p_sku, p_name, p_price, p_stock)
    ON CONFLICT (sku) DO UPDATE
        SET name = EXCLUDED.name,
            price = EXCLUDED.price,
            stock = EXCLUDED.stock,
            updated_at = now()
    RETURNING id INTO v_id;

    RETURN v_id;
END;
$$;

CREATE OR REPLACE FUNCTION inventory.discontinue_product(p_id uuid)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM inventory.tb_product WHERE id = p_id AND deleted_at IS NULL) THEN
        RAISE EXCEPTION 'product % not found', p_id;
    END IF;
    UPDATE inventory.tb_product SET active = false, updated_at = now() WHERE id = p_id;
    UPDATE inventory.tb_product SET deleted_at = now() WHERE id = p_id AND stock = 0;
END;
$$;
