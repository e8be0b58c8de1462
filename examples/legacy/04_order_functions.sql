-- Order life cycle: draft -> placed -> paid -> shipped, or cancelled before shipping.
SET search_path = shop, public;

CREATE OR REPLACE FUNCTION shop.add_order_line(
    p_order_id integer,
    p_product_id integer,
    p_quantity integer
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_status varchar(20);
    v_price numeric(12,2);
    v_line_id integer;
BEGIN
    IF p_quantity IS NULL OR p_quantity <= 0 THEN
        RAISE EXCEPTION 'quantity must be positive';
    END IF;
    SELECT status INTO v_status FROM shop.orders WHERE order_id = p_order_id;
    IF v_status IS DISTINCT FROM 'draft' THEN
        RAISE EXCEPTION 'order % is not a draft', p_order_id;
    END IF;
    SELECT price INTO v_price
      FROM inventory.tb_product
     WHERE pk_product = p_product_id AND active;
    IF v_price IS NULL THEN
        RAISE EXCEPTION 'product % is not for sale', p_product_id;
    END IF;

    INSERT INTO shop.order_lines (order_id, product_id, quantity, unit_price)
    VALUES (p_order_id, p_product_id, p_quantity, v_price)
    RETURNING order_line_id INTO v_line_id;

    PERFORM shop.recalculate_order_total(p_order_id);
    RETURN v_line_id;
END;
$$;

-- Sum of the lines, written back to the order (an accumulator loop, as written in 2009).
CREATE OR REPLACE FUNCTION shop.recalculate_order_total(p_order_id integer)
RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
    v_total numeric(12,2) := 0;
    v_line record;
BEGIN
    FOR v_line IN SELECT quantity, unit_price FROM shop.order_lines WHERE order_id = p_order_id
    LOOP
        v_total := v_total + v_line.quantity * v_line.unit_price;
    END LOOP;

    UPDATE shop.orders SET total = v_total, updated_at = now() WHERE order_id = p_order_id;
    RETURN v_total;
END;
$$;

CREATE OR REPLACE FUNCTION shop.place_order(p_order_id integer)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_order shop.orders%ROWTYPE;
    v_lines integer;
BEGIN
    SELECT * INTO v_order FROM shop.orders WHERE order_id = p_order_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'order % not found', p_order_id;
    END IF;
    IF v_order.status <> 'draft' THEN
        RAISE EXCEPTION 'only a draft can be placed (order % is %)', p_order_id, v_order.status;
    END IF;
    SELECT count(*) INTO v_lines FROM shop.order_lines WHERE order_id = p_order_id;
    IF v_lines = 0 THEN
        RAISE EXCEPTION 'order % has no lines', p_order_id;
    END IF;

    UPDATE shop.orders
       SET status = 'placed', placed_at = now(), updated_at = now()
     WHERE order_id = p_order_id;

    PERFORM pg_notify('order_placed', p_order_id::text);
END;
$$;

CREATE OR REPLACE FUNCTION shop.pay_order(p_order_id integer, p_amount numeric)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_status varchar(20);
    v_total numeric(12,2);
BEGIN
    SELECT status, total INTO v_status, v_total FROM shop.orders WHERE order_id = p_order_id;
    IF v_status IS NULL THEN
        RAISE EXCEPTION 'order % not found', p_order_id;
    ELSIF v_status <> 'placed' THEN
        RAISE EXCEPTION 'order % cannot be paid in status %', p_order_id, v_status;
    END IF;
    IF p_amount <> v_total THEN
        RAISE EXCEPTION 'payment % does not match the order total %', p_amount, v_total;
    END IF;

    UPDATE shop.orders
       SET status = 'paid', paid_amount = p_amount, updated_at = now()
     WHERE order_id = p_order_id;
END;
$$;

CREATE OR REPLACE FUNCTION shop.ship_order(p_order_id integer)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE shop.orders
       SET status = 'shipped', shipped_at = now(), updated_at = now()
     WHERE order_id = p_order_id AND status = 'paid';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'order % is not paid (or does not exist)', p_order_id;
    END IF;

    -- Take the shipped quantities out of stock.
    UPDATE inventory.tb_product p
       SET stock = p.stock - l.quantity, updated_at = now()
      FROM shop.order_lines l
     WHERE l.order_id = p_order_id AND p.pk_product = l.product_id;
END;
$$;

CREATE OR REPLACE FUNCTION shop.cancel_order(p_order_id integer, p_reason text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_status varchar(20);
BEGIN
    SELECT status INTO v_status FROM shop.orders WHERE order_id = p_order_id FOR UPDATE;
    CASE v_status
        WHEN 'draft', 'placed' THEN
            UPDATE shop.orders
               SET status = 'cancelled', cancel_reason = p_reason, updated_at = now()
             WHERE order_id = p_order_id;
        WHEN 'paid' THEN
            -- Paid orders are refunded by accounting first.
            RAISE EXCEPTION 'order % is paid: refund it before cancelling', p_order_id;
        ELSE
            RAISE EXCEPTION 'order % cannot be cancelled in status %', p_order_id, v_status;
    END CASE;
END;
$$;
