-- Triggers: an audit trail of order changes, updated_at maintenance, low-stock alerts.
SET search_path = shop, public;

CREATE OR REPLACE FUNCTION shop.trg_orders_audit()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO shop.order_history (order_id, operation, new_status)
        VALUES (NEW.order_id, 'I', NEW.status);
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.status IS DISTINCT FROM OLD.status THEN
            INSERT INTO shop.order_history (order_id, operation, old_status, new_status)
            VALUES (NEW.order_id, 'U', OLD.status, NEW.status);
        END IF;
        RETURN NEW;
    ELSE
        INSERT INTO shop.order_history (order_id, operation, old_status)
        VALUES (OLD.order_id, 'D', OLD.status);
        RETURN OLD;
    END IF;
END;
$$;

CREATE TRIGGER orders_audit
    AFTER INSERT OR UPDATE OR DELETE ON shop.orders
    FOR EACH ROW EXECUTE FUNCTION shop.trg_orders_audit();

CREATE OR REPLACE FUNCTION shop.trg_touch_updated_at()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER customers_touch BEFORE UPDATE ON shop.customers
    FOR EACH ROW EXECUTE FUNCTION shop.trg_touch_updated_at();

-- Tell the purchasing daemon when a product runs low (it LISTENs on low_stock).
CREATE OR REPLACE FUNCTION inventory.trg_product_low_stock()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.stock < NEW.reorder_level AND OLD.stock >= OLD.reorder_level THEN
        PERFORM pg_notify('low_stock', json_build_object('sku', NEW.sku, 'stock', NEW.stock)::text);
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER product_low_stock AFTER UPDATE OF stock ON inventory.tb_product
    FOR EACH ROW EXECUTE FUNCTION inventory.trg_product_low_stock();
