-- Customer functions (called by the PHP back office).
SET search_path = shop, public;

CREATE OR REPLACE FUNCTION shop.create_customer(
    p_email text,
    p_full_name text,
    p_phone text DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_customer_id integer;
BEGIN
    IF p_email IS NULL OR p_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' THEN
        RAISE EXCEPTION 'invalid e-mail address: %', p_email;
    END IF;
    IF length(trim(p_full_name)) = 0 THEN
        RAISE EXCEPTION 'a customer needs a name';
    END IF;
    IF EXISTS (SELECT 1 FROM shop.customers WHERE email = lower(p_email) AND deleted_at IS NULL) THEN
        RAISE EXCEPTION 'e-mail % is already registered', p_email;
    END IF;

    INSERT INTO shop.customers (email, full_name, phone)
    VALUES (lower(p_email), p_full_name, p_phone)
    RETURNING customer_id INTO v_customer_id;

    RETURN v_customer_id;
END;
$$;

COMMENT ON FUNCTION shop.create_customer(text, text, text) IS 'Register a new customer';

-- Block a customer who does not pay; closed customers stay closed.
CREATE OR REPLACE FUNCTION shop.block_customer(p_customer_id integer, p_reason text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_status varchar(20);
BEGIN
    SELECT status INTO v_status FROM shop.customers WHERE customer_id = p_customer_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'customer % not found', p_customer_id;
    END IF;
    IF v_status = 'closed' THEN
        RAISE EXCEPTION 'customer % is closed', p_customer_id;
    END IF;

    UPDATE shop.customers
       SET status = 'blocked', updated_at = now()
     WHERE customer_id = p_customer_id;

    PERFORM pg_notify('customer_blocked', json_build_object('customer_id', p_customer_id,
                                                            'reason', p_reason)::text);
END;
$$;

-- Soft delete: customers with open orders cannot be removed; the row is kept for invoicing.
CREATE OR REPLACE FUNCTION shop.delete_customer(p_customer_id integer)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_open integer;
BEGIN
    SELECT count(*) INTO v_open
      FROM shop.orders
     WHERE customer_id = p_customer_id
       AND status IN ('placed', 'paid');
    IF v_open > 0 THEN
        RAISE EXCEPTION 'customer % still has % open order(s)', p_customer_id, v_open;
    END IF;

    UPDATE shop.customers
       SET deleted_at = now(), status = 'closed'
     WHERE customer_id = p_customer_id
       AND deleted_at IS NULL;
END;
$$;

-- How much a customer still owes: the accumulator the invoicing report uses.
CREATE OR REPLACE FUNCTION shop.customer_balance(p_customer_id integer)
RETURNS numeric
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_balance numeric(12,2) := 0;
    r record;
BEGIN
    FOR r IN
        SELECT total, paid_amount FROM shop.orders
         WHERE customer_id = p_customer_id AND status <> 'cancelled'
    LOOP
        v_balance := v_balance + r.total - coalesce(r.paid_amount, 0);
    END LOOP;
    RETURN v_balance;
END;
$$;
